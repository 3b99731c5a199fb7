//! The hub: one resolution per event, one execution per cohort.
//!
//! The dispatcher follows the event log (`log.rs`) by its monotonic sequence, woken once per
//! commit by the SLA room's signal, so events are published only after commit and in commit
//! order, and a missed wake-up costs latency, never an event.
//!
//! Subscribers whose company, role, document, operation and variables are equal form a
//! [`Cohort`]; each event is executed once per cohort of its company, with loaders primed from
//! the event's snapshot, and serialized once. Every member gets the same payload bytes in its
//! own envelope. A member's queue is bounded ([`QUEUE`]): when it is full the member is told to
//! go ([`Signals::overflow`]) and the transport closes it, saying the last sequence it received
//! so that it can resume with `afterSequence`.
//!
//! The hub runs the schema through async-graphql's [`Executor`] trait, so this room does not
//! import the schema's assembly.
use super::graphql::LiveEvent;
use super::log::{BreachEvent, last_sequence, load_events};
use crate::auth::AuthContext;
use crate::entity::sla_event;
use crate::graphql_base::loaders::Loaders;
use crate::model::Role;
use async_graphql::{Executor, Request, Variables};
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

/// Events read from the log per statement.
pub const BATCH: u64 = 500;
/// Messages that may wait for one WebSocket connection before it is closed as too slow.
pub const QUEUE: usize = 2048;

/// One message for one subscription of one connection.
#[derive(Clone, Debug)]
pub struct Outbound {
    pub sub: Arc<str>,
    pub seq: i64,
    /// The serialized GraphQL response, shared by the whole cohort.
    pub payload: Arc<str>,
}

/// What the hub tells a connection besides its messages.
#[derive(Default)]
pub struct Signals {
    overflowed: AtomicBool,
    pub wake: Notify,
}

impl Signals {
    /// The connection's queue was full: it must resynchronise.
    pub fn overflow(&self) {
        if !self.overflowed.swap(true, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::SeqCst)
    }
}

/// A connection's side of a subscription.
#[derive(Clone)]
pub struct Member {
    pub conn: u64,
    pub sub: Arc<str>,
    pub tx: mpsc::Sender<Outbound>,
    pub signals: Arc<Signals>,
}

/// What makes two subscriptions share results.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CohortKey {
    pub company_id: Uuid,
    pub role: Role,
    pub query: String,
    pub operation_name: Option<String>,
    /// Canonical JSON (object keys sorted).
    pub variables: String,
}

/// The operation a subscription runs, as the client sent it.
#[derive(Clone, Debug)]
pub struct Operation {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Variables,
}

impl Operation {
    pub fn key(&self, auth: &AuthContext) -> CohortKey {
        let variables = serde_json::to_value(&self.variables)
            .map(|v| v.to_string())
            .unwrap_or_default();
        CohortKey {
            company_id: auth.company_id,
            role: auth.role,
            query: self.query.clone(),
            operation_name: self.operation_name.clone(),
            variables,
        }
    }

    /// The request for this operation, run as `auth` with fresh loaders.
    pub fn request(&self, db: &DatabaseConnection, auth: &AuthContext) -> Request {
        self.request_with(auth, Loaders::new(db.clone(), auth.company_id))
    }

    /// The request for this operation, run as `auth` with the given loaders.
    fn request_with(&self, auth: &AuthContext, loaders: Loaders) -> Request {
        let mut r = Request::new(self.query.clone()).variables(self.variables.clone());
        if let Some(n) = &self.operation_name {
            r = r.operation_name(n.clone());
        }
        r.data(crate::auth::AuthState::User(auth.clone()))
            .data(loaders)
    }
}

/// Subscribers that share one execution per event.
pub struct Cohort {
    pub key: CohortKey,
    pub auth: AuthContext,
    pub op: Operation,
    members: Mutex<Vec<Member>>,
}

impl Cohort {
    fn len(&self) -> usize {
        self.members.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Runs the operation for one event: the serialized response, or None when the event does
    /// not match the subscription's filter.
    pub async fn render(
        &self,
        schema: &impl Executor,
        db: &DatabaseConnection,
        ev: &Arc<BreachEvent>,
    ) -> Option<Arc<str>> {
        if ev.company_id != self.auth.company_id {
            return None;
        }
        render(schema, db, &self.auth, &self.op, ev, false).await
    }

    fn deliver(&self, seq: i64, payload: &Arc<str>) {
        let Ok(members) = self.members.lock() else {
            return;
        };
        for m in members.iter() {
            let out = Outbound {
                sub: m.sub.clone(),
                seq,
                payload: payload.clone(),
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = m.tx.try_send(out) {
                m.signals.overflow();
            }
        }
    }
}

/// Executes `op` for one event as `auth`, with loaders primed from the event's snapshot;
/// `replayed` says whether the event was read back for `afterSequence`.
pub async fn render(
    schema: &impl Executor,
    db: &DatabaseConnection,
    auth: &AuthContext,
    op: &Operation,
    ev: &Arc<BreachEvent>,
    replayed: bool,
) -> Option<Arc<str>> {
    let loaders = Loaders::new(db.clone(), auth.company_id);
    prime(&loaders, ev).await;
    let req = op.request_with(auth, loaders).data(LiveEvent {
        event: ev.clone(),
        replayed,
    });
    let mut stream = schema.execute_stream(req, None);
    let resp = stream.next().await?;
    match serde_json::to_string(&resp) {
        Ok(s) => Some(Arc::from(s)),
        Err(e) => {
            tracing::error!(error = %e, "serialising a breach event");
            None
        }
    }
}

/// Feeds a live event's snapshot into fresh loaders, so that resolving the event reads no rows.
/// Only rows of the event's own company are fed (the loaders stay tenant-bound).
async fn prime(loaders: &Loaders, ev: &BreachEvent) {
    let company = ev.company_id;
    if let Some(s) = ev.sla.as_ref().filter(|s| s.company_id == company) {
        loaders.slas.feed_one(s.id, Arc::new(s.clone())).await;
    }
    if let Some(e) = ev.execution.as_ref().filter(|e| e.company_id == company) {
        loaders.executions.feed_one(e.id, Arc::new(e.clone())).await;
    }
    if let Some(w) = ev.workflow.as_ref().filter(|w| w.company_id == company) {
        loaders.workflows.feed_one(w.id, Arc::new(w.clone())).await;
    }
    let users = ev.users.iter().filter(|u| u.company_id == company);
    loaders
        .users
        .feed_many(users.map(|u| (u.id, Arc::new(u.clone()))))
        .await;
}

/// The cohorts of this process and the dispatcher that feeds them.
pub struct Hub {
    cohorts: Mutex<HashMap<CohortKey, Arc<Cohort>>>,
    /// Notified once per commit that appended events (by the SLA room, or by another
    /// replica's notice).
    wake: Arc<Notify>,
    /// The last sequence number dispatched.
    pub cursor: AtomicI64,
    /// Executions of a subscription document for an event (one per cohort and event).
    renders: prometheus::IntCounter,
    next_conn: AtomicU64,
}

impl Hub {
    /// A hub woken by `wake`, counting its renders in `renders`.
    pub fn new(renders: prometheus::IntCounter, wake: Arc<Notify>) -> Self {
        Hub {
            cohorts: Mutex::default(),
            wake,
            cursor: AtomicI64::new(-1),
            renders,
            next_conn: AtomicU64::new(1),
        }
    }

    /// A number naming a new connection.
    pub fn connection_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a member to the cohort of `(auth, op)`, creating it when new.
    pub fn join(&self, auth: &AuthContext, op: &Operation, member: Member) -> Arc<Cohort> {
        let key = op.key(auth);
        let mut cohorts = self.cohorts.lock().unwrap_or_else(|p| p.into_inner());
        let cohort = cohorts
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Cohort {
                    key,
                    auth: auth.clone(),
                    op: op.clone(),
                    members: Mutex::default(),
                })
            })
            .clone();
        if let Ok(mut m) = cohort.members.lock() {
            m.push(member);
        }
        cohort
    }

    /// Removes a connection's subscription; an empty cohort goes.
    pub fn leave(&self, cohort: &Arc<Cohort>, conn: u64, sub: &str) {
        let mut cohorts = self.cohorts.lock().unwrap_or_else(|p| p.into_inner());
        let empty = match cohort.members.lock() {
            Ok(mut m) => {
                m.retain(|x| !(x.conn == conn && &*x.sub == sub));
                m.is_empty()
            }
            Err(_) => false,
        };
        if empty
            && cohorts
                .get(&cohort.key)
                .is_some_and(|c| Arc::ptr_eq(c, cohort))
        {
            cohorts.remove(&cohort.key);
        }
    }

    /// How many cohorts and members there are now.
    pub fn sizes(&self) -> (usize, usize) {
        let cohorts = self.cohorts.lock().unwrap_or_else(|p| p.into_inner());
        (cohorts.len(), cohorts.values().map(|c| c.len()).sum())
    }

    fn cohorts_of(&self, company: Uuid) -> Vec<Arc<Cohort>> {
        let cohorts = self.cohorts.lock().unwrap_or_else(|p| p.into_inner());
        cohorts
            .values()
            .filter(|c| c.key.company_id == company)
            .cloned()
            .collect()
    }

    /// Runs one event through every cohort of its company and queues the results.
    pub async fn deliver(
        &self,
        schema: &impl Executor,
        db: &DatabaseConnection,
        ev: Arc<BreachEvent>,
    ) {
        for cohort in self.cohorts_of(ev.company_id) {
            self.renders.inc();
            if let Some(payload) = cohort.render(schema, db, &ev).await {
                cohort.deliver(ev.seq, &payload);
            }
        }
    }

    /// Places the cursor at the end of the log, where live subscribers start (one that wants
    /// the past asks with afterSequence). Called before the server accepts connections.
    pub async fn start_at_head(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let head = last_sequence(db).await?.unwrap_or(0);
        let _ = self
            .cursor
            .compare_exchange(-1, head, Ordering::SeqCst, Ordering::SeqCst);
        Ok(())
    }

    /// Reads events after the cursor, in sequence order, and delivers them. Returns how many
    /// were read.
    pub async fn dispatch_once(
        &self,
        schema: &impl Executor,
        db: &DatabaseConnection,
    ) -> Result<usize, DbErr> {
        if self.cursor.load(Ordering::SeqCst) < 0 {
            self.start_at_head(db).await?;
        }
        // Events a writer queued and did not publish (it stopped after its commit) are
        // published here (PostgreSQL; `sla::event_log`).
        if let Err(e) = crate::sla::event_log::publish(db).await {
            tracing::warn!(error = %e, "breach event dispatcher: publishing queued events failed");
        }
        let cursor = self.cursor.load(Ordering::SeqCst);
        let rows = sla_event::Entity::find()
            .filter(sla_event::Column::Seq.gt(cursor))
            .order_by_asc(sla_event::Column::Seq)
            .limit(BATCH)
            .all(db)
            .await?;
        let n = rows.len();
        let last = rows.last().map(|r| r.seq);
        let wanted: Vec<sla_event::Model> = {
            let cohorts = self.cohorts.lock().unwrap_or_else(|p| p.into_inner());
            let companies: std::collections::HashSet<Uuid> =
                cohorts.keys().map(|k| k.company_id).collect();
            rows.into_iter()
                .filter(|r| companies.contains(&r.company_id))
                .collect()
        };
        for ev in load_events(db, wanted).await? {
            self.deliver(schema, db, ev.clone()).await;
            self.cursor.store(ev.seq, Ordering::SeqCst);
        }
        if let Some(last) = last {
            self.cursor.store(last, Ordering::SeqCst);
        }
        Ok(n)
    }

    /// Follows the log until the task is dropped: on every wake-up, and every `poll` as a
    /// backstop.
    pub async fn run(
        self: Arc<Self>,
        schema: impl Executor,
        db: DatabaseConnection,
        poll: Duration,
    ) {
        loop {
            match self.dispatch_once(&schema, &db).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "breach event dispatcher: reading the log failed")
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Why a replay cannot go on.
#[derive(Debug)]
pub enum ReplayError {
    /// The log no longer keeps the events after sequence `after`: `first` is the oldest kept.
    NotKept { after: i64, first: i64 },
    /// Reading the log failed.
    Db(DbErr),
}

/// A subscription's events after a sequence, read back from the log in order, a batch at a
/// time (`afterSequence`).
pub struct Replay<'a, E> {
    schema: &'a E,
    db: &'a DatabaseConnection,
    auth: &'a AuthContext,
    op: &'a Operation,
    /// The last sequence read: where the live queue takes over.
    pub last: i64,
}

impl<'a, E: Executor> Replay<'a, E> {
    /// A replay of `op`'s events of `auth`'s company after `after`; NotKept when retention
    /// has removed some of them.
    pub async fn start(
        schema: &'a E,
        db: &'a DatabaseConnection,
        auth: &'a AuthContext,
        op: &'a Operation,
        after: i64,
    ) -> Result<Self, ReplayError> {
        match super::log::first_sequence(db).await {
            Ok(Some(first)) if first > after.saturating_add(1) => {
                return Err(ReplayError::NotKept { after, first });
            }
            Err(e) => tracing::warn!(error = %e, "reading the event log's start"),
            _ => {}
        }
        Ok(Replay {
            schema,
            db,
            auth,
            op,
            last: after,
        })
    }

    /// The payloads of the next batch (those that match the subscription), or None when the
    /// log has no more.
    pub async fn next(&mut self) -> Result<Option<Vec<Arc<str>>>, ReplayError> {
        let events = super::log::events_after(self.db, self.auth.company_id, self.last)
            .await
            .map_err(ReplayError::Db)?;
        if events.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            self.last = ev.seq;
            if let Some(p) = render(self.schema, self.db, self.auth, self.op, &ev, true).await {
                out.push(p);
            }
        }
        Ok(Some(out))
    }
}
