//! GraphQL over WebSocket, our own layer: graphql-transport-ws (graphql-ws's PROTOCOL.md) and
//! the legacy graphql-ws protocol of subscriptions-transport-ws.
//!
//! It is ours rather than async-graphql's because subscriptions join cohorts that share one
//! execution and one serialization per event (see [`crate::live::hub`]); the library's layer
//! runs one stream, with its own resolution, per subscriber.
//!
//! Close codes (graphql-transport-ws): 4400 invalid message, 4401 subscribe before
//! `connection_ack`, 4403 rejected or revoked credentials, 4408 no `connection_init` within
//! `WS_INIT_TIMEOUT_SECONDS`, 4409 a subscription id already in use, 4429 a second
//! `connection_init`. A subscriber whose queue overflows is sent a LAGGED error per
//! subscription, with `extensions.lastSequence`, and closed with 1013 (try again later): a
//! client that reconnects and resubscribes with `afterSequence` loses nothing.
use crate::AppState;
use crate::auth::{AuthContext, AuthState};
use crate::live::graphql::SubscribeProbe;
use crate::live::hub::{self, Cohort, Member, Operation, Outbound, Signals};
use crate::live::{Hub, Replay, ReplayError};
use crate::server::AppSchema;
use async_graphql::parser::types::OperationType;
use async_graphql::{Executor, Response, Variables};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A socket write that takes longer than this ends the connection (the client stopped
/// reading); a subscriber's stuck write is told LAGGED first (see [`LAGGED_DRAIN`]).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a subscriber that fell behind is given to take what was already written, then
/// the LAGGED error and the 1013 close. It has left its cohort by then, so nothing more is
/// queued for it; what waits is what the socket already held.
const LAGGED_DRAIN: Duration = Duration::from_secs(30);
/// Queued messages written before one flush.
const WRITE_BATCH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`, the current protocol (graphql-ws 5+).
    TransportWs,
    /// `graphql-ws`, the legacy protocol of subscriptions-transport-ws.
    LegacyWs,
}

impl Protocol {
    pub const NAMES: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "graphql-transport-ws" => Some(Protocol::TransportWs),
            "graphql-ws" => Some(Protocol::LegacyWs),
            _ => None,
        }
    }

    fn next_type(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::LegacyWs => "data",
        }
    }
}

/// The connection's timing.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub init_timeout: Duration,
    pub keepalive: Option<Duration>,
    /// How often the connection's token is checked again.
    pub revalidate: Duration,
}

impl Settings {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Settings {
            init_timeout: Duration::from_secs(c.ws_init_timeout_seconds),
            keepalive: (c.ws_keepalive_seconds > 0)
                .then(|| Duration::from_secs(c.ws_keepalive_seconds)),
            revalidate: Duration::from_secs(c.token_cache_seconds),
        }
    }
}

/// What the loop does next.
enum Flow {
    Continue,
    Close(u16, String),
    /// The peer is gone or not reading: drop without a close frame.
    Gone,
    /// A subscriber's queue overflowed, or a write to it stalled: tell it LAGGED and close.
    Lagged,
}

/// One of the connection's operations.
enum Sub {
    /// A query or mutation under way.
    Single,
    /// A live subscription and the last sequence it was sent.
    Live { cohort: Arc<Cohort>, last_seq: i64 },
}

struct Conn {
    id: u64,
    proto: Protocol,
    state: Arc<AppState>,
    live: Arc<Hub>,
    schema: AppSchema,
    auth: Option<AuthContext>,
    token: Option<String>,
    init_seen: bool,
    subs: HashMap<Arc<str>, Sub>,
    tx: mpsc::Sender<Outbound>,
    signals: Arc<Signals>,
    pending: FuturesUnordered<BoxFuture<'static, (Arc<str>, Response)>>,
}

/// What woke the loop.
enum Wake {
    Client(Option<Result<Message, axum::Error>>),
    Queued(Outbound),
    Done(Arc<str>, Response),
    InitTimeout,
    KeepAlive,
    Revalidate,
    Overflow,
}

/// Serves one upgraded connection until either side closes it.
pub async fn serve(
    mut socket: WebSocket,
    proto: Protocol,
    schema: AppSchema,
    state: Arc<AppState>,
    live: Arc<Hub>,
) {
    let settings = Settings::from_config(&state.config);
    let (tx, mut rx) = mpsc::channel(hub::QUEUE);
    let mut c = Conn {
        id: live.connection_id(),
        proto,
        state,
        live,
        schema,
        auth: None,
        token: None,
        init_seen: false,
        subs: HashMap::new(),
        tx,
        signals: Arc::default(),
        pending: FuturesUnordered::new(),
    };
    let init_deadline = tokio::time::sleep(settings.init_timeout);
    tokio::pin!(init_deadline);
    let ka_every = settings.keepalive.unwrap_or(Duration::from_secs(3600));
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + ka_every, ka_every);
    let mut revalidate = tokio::time::interval_at(
        tokio::time::Instant::now() + settings.revalidate,
        settings.revalidate,
    );
    let signals = c.signals.clone();
    let end = loop {
        let wake = tokio::select! {
            m = socket.recv() => Wake::Client(m),
            Some(out) = rx.recv() => Wake::Queued(out),
            Some((id, resp)) = c.pending.next(), if !c.pending.is_empty() => Wake::Done(id, resp),
            _ = &mut init_deadline, if !c.init_seen => Wake::InitTimeout,
            _ = keepalive.tick(), if settings.keepalive.is_some() && c.auth.is_some() => Wake::KeepAlive,
            _ = revalidate.tick(), if c.auth.is_some() => Wake::Revalidate,
            _ = signals.wake.notified() => Wake::Overflow,
        };
        let flow = match wake {
            Wake::Client(None) => Flow::Gone,
            Wake::Client(Some(Err(e))) => violation(e),
            Wake::Client(Some(Ok(m))) => c.on_message(&mut socket, m).await,
            Wake::Queued(out) => c.on_queued(&mut socket, out, &mut rx).await,
            Wake::Done(id, resp) => c.on_done(&mut socket, id, resp).await,
            Wake::InitTimeout => Flow::Close(4408, "Connection initialisation timeout".into()),
            Wake::KeepAlive => c.keepalive(&mut socket).await,
            Wake::Revalidate => c.revalidate().await,
            Wake::Overflow => c.on_overflow(&mut socket).await,
        };
        let flow = match flow {
            Flow::Lagged => c.lagged(&mut socket).await,
            f => f,
        };
        match flow {
            Flow::Continue => {}
            Flow::Close(code, reason) => break Some((code, reason)),
            Flow::Gone | Flow::Lagged => break None,
        }
    };
    c.leave_all();
    if let Some((code, reason)) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        // A lagged subscriber's close waits behind what it has yet to read.
        let wait = if code == 1013 {
            LAGGED_DRAIN
        } else {
            WRITE_TIMEOUT
        };
        let _ = tokio::time::timeout(wait, socket.send(Message::Close(Some(frame)))).await;
    }
}

/// The close for a frame the client should not have sent (RFC 6455 section 7.4.1): 1002 for a
/// protocol error (an unmasked frame, reserved bits, a reserved opcode), 1007 for text that is
/// not UTF-8, 1009 for a frame or message over `GRAPHQL_MAX_BODY_BYTES` (a frame's length is
/// checked on its header, before anything is buffered). A dropped connection gets none.
fn violation(e: axum::Error) -> Flow {
    use tungstenite::Error as E;
    let inner = e.into_inner();
    match inner.downcast_ref::<E>() {
        Some(E::Protocol(p)) => Flow::Close(1002, format!("protocol error: {p}")),
        Some(E::Utf8(_)) => Flow::Close(1007, "text frames must be UTF-8".into()),
        Some(E::Capacity(c)) => Flow::Close(1009, format!("{c} (setting GRAPHQL_MAX_BODY_BYTES)")),
        _ => Flow::Gone,
    }
}

/// Sends one text frame, bounded by [`WRITE_TIMEOUT`].
async fn send(socket: &mut WebSocket, text: String) -> Flow {
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Gone,
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The envelope of a result: `{"id":…,"type":"next","payload":<payload>}`, built around the
/// cohort's shared payload bytes.
fn envelope(proto: Protocol, id: &str, payload: &str) -> String {
    format!(
        r#"{{"id":{},"type":"{}","payload":{}}}"#,
        json_str(id),
        proto.next_type(),
        payload
    )
}

/// The token in a `connection_init` payload: `{"Authorization": "Bearer …"}` or
/// `{"token": "…"}` (header names in any case).
fn init_token(payload: &serde_json::Value) -> Option<String> {
    let obj = payload.as_object()?;
    for (k, v) in obj {
        let Some(s) = v.as_str() else { continue };
        if k.eq_ignore_ascii_case("authorization") {
            return crate::auth::bearer(s).map(str::to_string);
        }
        if k == "token" {
            return Some(s.trim().to_string()).filter(|t| !t.is_empty());
        }
    }
    None
}

/// The operation in a `subscribe`/`start` payload.
fn parse_operation(payload: &Value) -> Result<Operation, String> {
    let query = payload
        .get("query")
        .and_then(Value::as_str)
        .ok_or("the payload needs a query string")?;
    let operation_name = match payload.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("operationName must be a string".into()),
    };
    let variables = match payload.get("variables") {
        None | Some(Value::Null) => Variables::default(),
        Some(v @ Value::Object(_)) => Variables::from_json(v.clone()),
        Some(_) => return Err("variables must be an object".into()),
    };
    Ok(Operation {
        query: query.to_string(),
        operation_name,
        variables,
    })
}

impl Conn {
    async fn on_message(&mut self, socket: &mut WebSocket, m: Message) -> Flow {
        let text = match m {
            Message::Text(t) => t,
            Message::Close(_) => return Flow::Gone,
            Message::Ping(_) | Message::Pong(_) => return Flow::Continue,
            Message::Binary(_) => {
                return Flow::Close(4400, "Invalid message received: binary frame".into());
            }
        };
        let Ok(msg) = serde_json::from_str::<Value>(&text) else {
            return Flow::Close(4400, "Invalid message received: not JSON".into());
        };
        let kind = msg.get("type").and_then(Value::as_str).unwrap_or_default();
        match (self.proto, kind) {
            (_, "connection_init") => self.on_init(socket, &msg).await,
            (Protocol::TransportWs, "ping") => {
                let mut pong = json!({"type": "pong"});
                if let Some(p) = msg.get("payload").filter(|p| !p.is_null()) {
                    pong["payload"] = p.clone();
                }
                send(socket, pong.to_string()).await
            }
            (Protocol::TransportWs, "pong") => Flow::Continue,
            (Protocol::TransportWs, "subscribe") | (Protocol::LegacyWs, "start") => {
                self.on_subscribe(socket, &msg).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::LegacyWs, "stop") => {
                self.on_complete(socket, &msg).await
            }
            (Protocol::LegacyWs, "connection_terminate") => Flow::Close(1000, String::new()),
            (Protocol::LegacyWs, _) => {
                let err = json!({"type": "error", "payload": {"message": format!("unknown message type {kind:?}")}});
                send(socket, err.to_string()).await
            }
            (Protocol::TransportWs, _) => {
                Flow::Close(4400, format!("Invalid message received: type {kind:?}"))
            }
        }
    }

    async fn on_init(&mut self, socket: &mut WebSocket, msg: &Value) -> Flow {
        if self.init_seen {
            return Flow::Close(4429, "Too many initialisation requests".into());
        }
        self.init_seen = true;
        let payload = msg.get("payload").cloned().unwrap_or(Value::Null);
        let token = init_token(&payload);
        let auth = match &token {
            Some(t) => self.state.tokens.authenticate(&self.state.db, t).await,
            None => Ok(AuthState::Anonymous),
        };
        let Ok(AuthState::User(a)) = auth else {
            if self.proto == Protocol::LegacyWs {
                let err = json!({"type": "connection_error", "payload": {"message": "Forbidden: send a valid token in connection_init"}});
                let _ = send(socket, err.to_string()).await;
            }
            return Flow::Close(4403, "Forbidden".into());
        };
        self.auth = Some(a);
        self.token = token;
        let flow = send(socket, json!({"type": "connection_ack"}).to_string()).await;
        if self.proto == Protocol::LegacyWs && matches!(flow, Flow::Continue) {
            return send(socket, json!({"type": "ka"}).to_string()).await;
        }
        flow
    }

    async fn on_subscribe(&mut self, socket: &mut WebSocket, msg: &Value) -> Flow {
        let Some(auth) = self.auth.clone() else {
            return Flow::Close(4401, "Unauthorized".into());
        };
        let id = match msg.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Arc::<str>::from(id),
            _ => return Flow::Close(4400, "Invalid message received: id".into()),
        };
        let op = match parse_operation(msg.get("payload").unwrap_or(&Value::Null)) {
            Ok(op) => op,
            Err(e) => return Flow::Close(4400, format!("Invalid message received: {e}")),
        };
        if self.subs.contains_key(&id) {
            match self.proto {
                Protocol::TransportWs => {
                    return Flow::Close(4409, format!("Subscriber for {id} already exists"));
                }
                // The legacy protocol replaces an operation started again under its id.
                Protocol::LegacyWs => self.drop_sub(&id),
            }
        }
        let kinds =
            crate::server::operations::operation_types(&op.query, op.operation_name.as_deref());
        if kinds != [OperationType::Subscription] {
            let req = op.request(&self.state.db, &auth);
            let schema = self.schema.clone();
            let key = id.clone();
            self.pending
                .push(async move { (key, schema.execute(req).await) }.boxed());
            self.subs.insert(id, Sub::Single);
            return Flow::Continue;
        }
        self.start_live(socket, id, op, auth).await
    }

    /// Checks a subscription's document and arguments, joins its cohort, and replays from
    /// `afterSequence` when asked.
    async fn start_live(
        &mut self,
        socket: &mut WebSocket,
        id: Arc<str>,
        op: Operation,
        auth: AuthContext,
    ) -> Flow {
        let probe = SubscribeProbe::default();
        let slot = probe.after_sequence.clone();
        let req = op.request(&self.state.db, &auth).data(probe);
        let first = Executor::execute_stream(&self.schema, req, None)
            .next()
            .await;
        let metrics = &self.state.metrics;
        if let Some(resp) = first.filter(|r| r.is_err()) {
            metrics
                .graphql_requests_total
                .with_label_values(&["subscription", "error"])
                .inc();
            return self.send_error(socket, &id, &resp).await;
        }
        metrics
            .graphql_requests_total
            .with_label_values(&["subscription", "ok"])
            .inc();
        metrics.graphql_subscriptions_active.inc();
        let after = slot.lock().ok().and_then(|g| *g);
        let member = Member {
            conn: self.id,
            sub: id.clone(),
            tx: self.tx.clone(),
            signals: self.signals.clone(),
        };
        let cohort = self.live.join(&auth, &op, member);
        let last_seq = after.unwrap_or(-1);
        self.subs.insert(id.clone(), Sub::Live { cohort, last_seq });
        match after {
            Some(a) => self.replay(socket, id, &op, &auth, a).await,
            None => Flow::Continue,
        }
    }

    /// Sends the subscription's events after `after` from the log, then lets the live queue
    /// go on from there (the queue skips what the replay already sent).
    async fn replay(
        &mut self,
        socket: &mut WebSocket,
        id: Arc<str>,
        op: &Operation,
        auth: &AuthContext,
        after: i64,
    ) -> Flow {
        let db = self.state.db.clone();
        let mut replay = match Replay::start(&self.schema, &db, auth, op, after).await {
            Ok(r) => r,
            Err(e) => return self.replay_failed(socket, &id, e).await,
        };
        loop {
            match replay.next().await {
                Ok(Some(payloads)) => {
                    for p in payloads {
                        if let Flow::Gone = send(socket, envelope(self.proto, &id, &p)).await {
                            return Flow::Gone;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => return self.replay_failed(socket, &id, e).await,
            }
        }
        if let Some(Sub::Live { last_seq, .. }) = self.subs.get_mut(&id) {
            *last_seq = (*last_seq).max(replay.last);
        }
        Flow::Continue
    }

    async fn replay_failed(&mut self, socket: &mut WebSocket, id: &str, e: ReplayError) -> Flow {
        match e {
            ReplayError::NotKept { after, first } => {
                let mut resp = Response::from_errors(vec![async_graphql::ServerError::new(
                    format!(
                        "events after sequence {after} are no longer kept (the oldest kept is {first}; \
                         EVENT_RETENTION_DAYS); re-read unacknowledgedBreaches, then subscribe without afterSequence"
                    ),
                    None,
                )]);
                crate::error::ensure_codes(&mut resp);
                self.drop_sub(id);
                self.send_error(socket, id, &resp).await
            }
            ReplayError::Db(e) => {
                tracing::warn!(error = %e, "replaying the event log failed");
                Flow::Close(1011, "replaying the event log failed".into())
            }
        }
    }

    async fn send_error(&mut self, socket: &mut WebSocket, id: &str, resp: &Response) -> Flow {
        let errors = serde_json::to_value(&resp.errors).unwrap_or(Value::Null);
        let msg = json!({"id": id, "type": "error", "payload": errors});
        send(socket, msg.to_string()).await
    }

    async fn on_complete(&mut self, socket: &mut WebSocket, msg: &Value) -> Flow {
        let Some(id) = msg.get("id").and_then(Value::as_str) else {
            return Flow::Close(4400, "Invalid message received: id".into());
        };
        let known = self.subs.contains_key(id);
        self.drop_sub(id);
        if self.proto == Protocol::LegacyWs && known {
            return send(socket, json!({"id": id, "type": "complete"}).to_string()).await;
        }
        Flow::Continue
    }

    fn drop_sub(&mut self, id: &str) {
        if let Some(Sub::Live { cohort, .. }) = self.subs.remove(id) {
            self.live.leave(&cohort, self.id, id);
            self.state.metrics.graphql_subscriptions_active.dec();
        }
    }

    fn leave_all(&mut self) {
        let ids: Vec<Arc<str>> = self.subs.keys().cloned().collect();
        for id in ids {
            self.drop_sub(&id);
        }
    }

    /// Writes a queued event and whatever else is queued (up to a batch), with one flush. A
    /// queue that overflows while the write waits on the socket ends the wait.
    async fn on_queued(
        &mut self,
        socket: &mut WebSocket,
        first: Outbound,
        rx: &mut mpsc::Receiver<Outbound>,
    ) -> Flow {
        let signals = self.signals.clone();
        tokio::select! {
            flow = self.write_queued(socket, first, rx) => flow,
            _ = signals.wake.notified() => Flow::Lagged,
        }
    }

    async fn write_queued(
        &mut self,
        socket: &mut WebSocket,
        first: Outbound,
        rx: &mut mpsc::Receiver<Outbound>,
    ) -> Flow {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let mut wrote = false;
        for out in batch {
            let Some(Sub::Live { last_seq, .. }) = self.subs.get_mut(&*out.sub) else {
                continue;
            };
            if out.seq <= *last_seq {
                continue;
            }
            let text = envelope(self.proto, &out.sub, &out.payload);
            let fed = tokio::time::timeout(WRITE_TIMEOUT, socket.feed(Message::Text(text.into())));
            if !matches!(fed.await, Ok(Ok(()))) {
                return Flow::Lagged;
            }
            // Written (into the socket's buffer): where a LAGGED error says it stopped.
            *last_seq = out.seq;
            wrote = true;
        }
        if wrote
            && !matches!(
                tokio::time::timeout(WRITE_TIMEOUT, socket.flush()).await,
                Ok(Ok(()))
            )
        {
            return Flow::Lagged;
        }
        Flow::Continue
    }

    async fn on_done(&mut self, socket: &mut WebSocket, id: Arc<str>, resp: Response) -> Flow {
        if !matches!(self.subs.get(&id), Some(Sub::Single)) {
            return Flow::Continue; // completed by the client meanwhile
        }
        self.subs.remove(&id);
        if resp.data == async_graphql::Value::Null && resp.is_err() {
            return self.send_error(socket, &id, &resp).await;
        }
        let payload = serde_json::to_string(&resp).unwrap_or_else(|_| "{}".into());
        if let Flow::Gone = send(socket, envelope(self.proto, &id, &payload)).await {
            return Flow::Gone;
        }
        send(socket, json!({"id": &*id, "type": "complete"}).to_string()).await
    }

    async fn keepalive(&mut self, socket: &mut WebSocket) -> Flow {
        let msg = match self.proto {
            Protocol::TransportWs => json!({"type": "ping"}),
            Protocol::LegacyWs => json!({"type": "ka"}),
        };
        send(socket, msg.to_string()).await
    }

    /// Checks the token again: a revoked token, or a user whose company or role changed,
    /// ends the connection with 4403.
    async fn revalidate(&mut self) -> Flow {
        let (Some(token), Some(auth)) = (&self.token, &self.auth) else {
            return Flow::Continue;
        };
        match self.state.tokens.authenticate(&self.state.db, token).await {
            Ok(AuthState::User(now))
                if now.user_id == auth.user_id
                    && now.company_id == auth.company_id
                    && now.role == auth.role =>
            {
                Flow::Continue
            }
            // A database hiccup is not a revocation: check again next time.
            Err(_) => Flow::Continue,
            Ok(_) => Flow::Close(
                4403,
                "Forbidden: the token was revoked or its user changed".into(),
            ),
        }
    }

    /// The queue overflowed: tell each live subscription where it stopped, and close.
    async fn on_overflow(&mut self, socket: &mut WebSocket) -> Flow {
        if !self.signals.overflowed() {
            return Flow::Continue;
        }
        self.lagged(socket).await
    }

    /// Leaves every cohort, then queues a LAGGED error per live subscription (naming the last
    /// sequence written to it) ahead of the 1013 close, which `serve` sends within
    /// [`LAGGED_DRAIN`]: a client that pauses and then reads again finds them after what the
    /// socket already held, never a bare end of stream.
    async fn lagged(&mut self, socket: &mut WebSocket) -> Flow {
        let lasts: Vec<(Arc<str>, i64)> = self
            .subs
            .iter()
            .filter_map(|(id, s)| match s {
                Sub::Live { last_seq, .. } => Some((id.clone(), *last_seq)),
                Sub::Single => None,
            })
            .collect();
        self.leave_all();
        self.state.metrics.internals.subscribers_lagged_total.inc();
        tracing::warn!(
            connection = self.id,
            subscriptions = lasts.len(),
            "a subscriber fell behind: told LAGGED and closed with 1013"
        );
        let feed_all = async {
            for (id, last) in lasts {
                let err = json!([{
                    "message": format!("this subscriber fell more than {} events behind; resubscribe with afterSequence: {last}", hub::QUEUE),
                    "extensions": {"code": "LAGGED", "lastSequence": last},
                }]);
                let msg = json!({"id": &*id, "type": "error", "payload": err});
                socket.feed(Message::Text(msg.to_string().into())).await?;
            }
            Ok::<(), axum::Error>(())
        };
        match tokio::time::timeout(LAGGED_DRAIN, feed_all).await {
            Ok(Ok(())) => Flow::Close(1013, "slow consumer: resubscribe with afterSequence".into()),
            _ => Flow::Gone,
        }
    }
}
