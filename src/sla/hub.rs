//! The live breach stream: one resolution per event, one execution per cohort.
//!
//! Every breach event (DETECTED, ACKNOWLEDGED, ALERT_SENT) is first written to the
//! `sla_events` log in the same transaction as the change it reports. The dispatcher follows
//! the log by its monotonic sequence, so events are published only after commit and in commit
//! order, and a missed wake-up costs latency, never an event.
//!
//! For each batch of events the dispatcher loads everything a `BreachEvent` can select (the
//! breach, its SLA, execution, workflow, the workflow's owner and the acknowledger) with a
//! constant number of statements. Subscribers whose company, role, document, operation and
//! variables are equal form a [`Cohort`]; each event is executed once per cohort of its
//! company, with loaders primed from that snapshot, and serialized once. Every member gets the
//! same payload bytes in its own envelope. A member's queue is bounded: when it is full the
//! member is told to go ([`Signals::overflow`]) and the WebSocket layer closes it, saying the
//! last sequence it received so that it can resume with `afterSequence`.
use super::BreachEventKind;
use crate::auth::AuthContext;
use crate::entity::{breach, execution, sla, sla_event, user, workflow};
use crate::graphql::AppSchema;
use crate::graphql::loaders::Loaders;
use crate::model::Role;
use async_graphql::{Request, Variables};
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

/// One event as subscribers receive it, with everything its selection can reach.
#[derive(Clone, Debug)]
pub struct BreachEvent {
    pub seq: i64,
    pub company_id: Uuid,
    pub kind: BreachEventKind,
    pub breach: breach::Model,
    pub workflow_id: Uuid,
    pub sla: Option<sla::Model>,
    pub execution: Option<execution::Model>,
    pub workflow: Option<workflow::Model>,
    /// The workflow's owner and the acknowledger, where there are.
    pub users: Vec<user::Model>,
}

/// Request data that makes `slaBreachEvents` yield this one event (when it matches).
pub struct LiveEvent {
    pub event: Arc<BreachEvent>,
    /// Read back from the log for `afterSequence` rather than dispatched as it committed.
    pub replayed: bool,
}

/// Request data that makes `slaBreachEvents` only check its arguments and say where to resume.
#[derive(Default)]
pub struct SubscribeProbe {
    pub after_sequence: Arc<Mutex<Option<i64>>>,
}

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
        schema: &AppSchema,
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
    schema: &AppSchema,
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
    let mut stream = schema.execute_stream(req);
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
        loaders.slas.feed_one(s.id, s.clone()).await;
    }
    if let Some(e) = ev.execution.as_ref().filter(|e| e.company_id == company) {
        loaders.executions.feed_one(e.id, e.clone()).await;
    }
    if let Some(w) = ev.workflow.as_ref().filter(|w| w.company_id == company) {
        loaders.workflows.feed_one(w.id, w.clone()).await;
    }
    let users = ev.users.iter().filter(|u| u.company_id == company);
    loaders
        .users
        .feed_many(users.map(|u| (u.id, u.clone())))
        .await;
}

/// The cohorts of this process and the dispatcher that feeds them.
pub struct Hub {
    cohorts: Mutex<HashMap<CohortKey, Arc<Cohort>>>,
    wake: Notify,
    /// The last sequence number dispatched.
    pub cursor: AtomicI64,
    /// Executions of a subscription document for an event (one per cohort and event).
    renders: prometheus::IntCounter,
    next_conn: AtomicU64,
}

impl Hub {
    pub fn new(renders: prometheus::IntCounter) -> Self {
        Hub {
            cohorts: Mutex::default(),
            wake: Notify::new(),
            cursor: AtomicI64::new(-1),
            renders,
            next_conn: AtomicU64::new(1),
        }
    }

    /// Called after a transaction that appended to `sla_events` commits.
    pub fn committed(&self) {
        self.wake.notify_one();
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
    pub async fn deliver(&self, schema: &AppSchema, db: &DatabaseConnection, ev: Arc<BreachEvent>) {
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
        schema: &AppSchema,
        db: &DatabaseConnection,
    ) -> Result<usize, DbErr> {
        if self.cursor.load(Ordering::SeqCst) < 0 {
            self.start_at_head(db).await?;
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
    pub async fn run(self: Arc<Self>, schema: AppSchema, db: DatabaseConnection, poll: Duration) {
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

/// The newest (`Max`) or oldest (`Min`) sequence the log keeps, of one company's events or
/// of all; None while there are none.
async fn sequence(
    db: &DatabaseConnection,
    bound: sea_orm::sea_query::SimpleExpr,
    company: Option<Uuid>,
) -> Result<Option<i64>, DbErr> {
    let mut q = sla_event::Entity::find()
        .select_only()
        .column_as(bound, "m");
    if let Some(c) = company {
        q = q.filter(sla_event::Column::CompanyId.eq(c));
    }
    Ok(q.into_tuple::<Option<i64>>().one(db).await?.flatten())
}

/// The newest sequence in the log.
pub async fn last_sequence(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    sequence(db, sla_event::Column::Seq.max(), None).await
}

/// The newest sequence of one company's events; 0 when it has none.
pub async fn company_head(db: &DatabaseConnection, company: Uuid) -> Result<i64, DbErr> {
    Ok(sequence(db, sla_event::Column::Seq.max(), Some(company))
        .await?
        .unwrap_or(0))
}

/// The oldest sequence the log still keeps.
pub async fn first_sequence(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    sequence(db, sla_event::Column::Seq.min(), None).await
}

/// One company's events after `after`, at most [`BATCH`], with their snapshots.
pub async fn events_after(
    db: &DatabaseConnection,
    company: Uuid,
    after: i64,
) -> Result<Vec<Arc<BreachEvent>>, DbErr> {
    let rows = sla_event::Entity::find()
        .filter(sla_event::Column::CompanyId.eq(company))
        .filter(sla_event::Column::Seq.gt(after))
        .order_by_asc(sla_event::Column::Seq)
        .limit(BATCH)
        .all(db)
        .await?;
    load_events(db, rows).await
}

fn by_id<M, F: Fn(&M) -> Uuid>(rows: Vec<M>, id: F) -> HashMap<Uuid, M> {
    rows.into_iter().map(|r| (id(&r), r)).collect()
}

/// Everything the events' selections can reach, in five statements whatever their number.
pub async fn load_events(
    db: &DatabaseConnection,
    rows: Vec<sla_event::Model>,
) -> Result<Vec<Arc<BreachEvent>>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let breaches = by_id(
        breach::Entity::find()
            .filter(breach::Column::Id.is_in(rows.iter().map(|e| e.breach_id)))
            .all(db)
            .await?,
        |b| b.id,
    );
    let slas = by_id(
        sla::Entity::find()
            .filter(sla::Column::Id.is_in(breaches.values().map(|b| b.sla_id)))
            .all(db)
            .await?,
        |s| s.id,
    );
    let executions = by_id(
        execution::Entity::find()
            .filter(execution::Column::Id.is_in(breaches.values().map(|b| b.execution_id)))
            .all(db)
            .await?,
        |e| e.id,
    );
    let workflows = by_id(
        workflow::Entity::find()
            .filter(workflow::Column::Id.is_in(slas.values().map(|s| s.workflow_id)))
            .all(db)
            .await?,
        |w| w.id,
    );
    let user_ids = workflows
        .values()
        .filter_map(|w| w.owner_id)
        .chain(breaches.values().filter_map(|b| b.acknowledged_by));
    let users = by_id(
        user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids))
            .all(db)
            .await?,
        |u| u.id,
    );
    let mut out = Vec::with_capacity(rows.len());
    for e in rows {
        let (Some(b), Some(kind)) = (breaches.get(&e.breach_id), BreachEventKind::parse(&e.kind))
        else {
            continue;
        };
        let Some(s) = slas.get(&b.sla_id) else {
            continue;
        };
        let w = workflows.get(&s.workflow_id);
        let users = [w.and_then(|w| w.owner_id), b.acknowledged_by]
            .into_iter()
            .flatten()
            .filter_map(|id| users.get(&id).cloned())
            .collect();
        out.push(Arc::new(BreachEvent {
            seq: e.seq,
            company_id: e.company_id,
            kind,
            breach: b.clone(),
            workflow_id: s.workflow_id,
            sla: Some(s.clone()),
            execution: executions.get(&b.execution_id).cloned(),
            workflow: w.cloned(),
            users,
        }));
    }
    Ok(out)
}

/// Deletes events older than the retention; returns how many went.
pub async fn prune(
    db: &DatabaseConnection,
    older_than: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    Ok(sla_event::Entity::delete_many()
        .filter(sla_event::Column::CreatedAt.lt(older_than))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes events older than `EVENT_RETENTION_DAYS`, at start and then hourly, until the task
/// is dropped.
pub async fn run_retention(state: Arc<crate::AppState>) {
    let days = state.config.event_retention_days as i64;
    loop {
        let cut = state.clock.now() - chrono::Duration::days(days);
        match prune(&state.db, cut).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, days, "pruned the breach event log"),
            Err(e) => tracing::warn!(error = %e, "pruning the breach event log failed"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
