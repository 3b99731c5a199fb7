//! The live stream's part of the schema: the `slaBreachEvents` subscription and the head a
//! subscriber resumes from (`slaBreachEventsHead`). The transport runs the subscription
//! through the hub with one of two request data: [`LiveEvent`] (yield this event if it
//! matches) or [`SubscribeProbe`] (check the arguments and say where to resume).
use super::log::{self, BreachEvent as Logged};
use crate::auth::CtxAuth;
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::ids::parse_id;
use crate::sla::graphql::SlaBreach;
use crate::sla::{BreachEventKind, Severity};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Subscription};
use futures_util::Stream;
use std::sync::{Arc, Mutex};

/// Request data that makes `slaBreachEvents` yield this one event (when it matches).
pub struct LiveEvent {
    pub event: Arc<Logged>,
    /// Read back from the log for `afterSequence` rather than dispatched as it committed.
    pub replayed: bool,
}

/// Request data that makes `slaBreachEvents` only check its arguments and say where to resume.
#[derive(Default)]
pub struct SubscribeProbe {
    pub after_sequence: Arc<Mutex<Option<i64>>>,
}

#[derive(Default)]
pub struct LiveQuery;

#[Object]
impl LiveQuery {
    /// The newest sequence in the caller's company's breach event log (0 while it is empty).
    /// Read it before reading breaches, then subscribe to `slaBreachEvents` with
    /// `afterSequence` set to it: nothing that commits in between is missed.
    async fn sla_breach_events_head(&self, ctx: &Context<'_>) -> Result<i64> {
        let auth = ctx.auth()?;
        let db = &ctx.state()?.db;
        Ok(log::company_head(db, auth.company_id)
            .await
            .map_err(AppError::from)?)
    }
}

#[derive(InputObject, Default, Clone)]
pub struct BreachEventFilterInput {
    pub workflow_id: Option<ID>,
    pub sla_id: Option<ID>,
    pub severity: Option<Severity>,
}

/// Something that happened to a breach.
#[derive(SimpleObject)]
pub struct BreachEvent {
    pub kind: BreachEventKind,
    pub breach: SlaBreach,
    /// Position in the event log (increasing).
    pub sequence: i64,
    /// True when the event was read back from the log because the subscription asked for
    /// `afterSequence` (it happened while the subscriber was away); false when it arrived live.
    pub replayed: bool,
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Breach events of the caller's company as they commit, in commit order, over WebSocket.
    ///
    /// With `afterSequence`, the matching events after that sequence are first replayed from
    /// the event log (kept `EVENT_RETENTION_DAYS`), then the stream continues live, with no gap
    /// and no duplicate at the seam. A subscriber whose queue fills up receives an error with
    /// code LAGGED and `extensions.lastSequence`, and its connection is closed with 1013: it
    /// resumes with `afterSequence: lastSequence`.
    async fn sla_breach_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<BreachEventFilterInput>,
        after_sequence: Option<i64>,
    ) -> Result<impl Stream<Item = Result<BreachEvent>> + use<>> {
        let auth = ctx.auth()?;
        let f = filter.unwrap_or_default();
        let workflow = f
            .workflow_id
            .as_ref()
            .map(|i| parse_id(i, "workflow"))
            .transpose()?;
        let sla = f.sla_id.as_ref().map(|i| parse_id(i, "SLA")).transpose()?;
        let severity = f.severity.map(|s| s.as_str());
        if after_sequence.is_some_and(|a| a < 0) {
            return Err(AppError::bad("afterSequence must be 0 or more").into());
        }
        if let Some(probe) = ctx.data_opt::<SubscribeProbe>() {
            if let Ok(mut slot) = probe.after_sequence.lock() {
                *slot = after_sequence;
            }
            return Ok(futures_util::stream::iter(None));
        }
        let Some(LiveEvent {
            event: ev,
            replayed,
        }) = ctx.data_opt::<LiveEvent>()
        else {
            return Err(AppError::bad(
                "subscriptions are served over WebSocket at /graphql (graphql-transport-ws or graphql-ws)",
            )
            .into());
        };
        let keep = ev.company_id == auth.company_id
            && workflow.is_none_or(|w| ev.workflow_id == w)
            && sla.is_none_or(|s| ev.breach.sla_id == s)
            && severity.is_none_or(|s| ev.breach.severity == s);
        let item = keep.then(|| {
            Ok(BreachEvent {
                kind: ev.kind,
                breach: ev.breach.clone(),
                sequence: ev.seq,
                replayed: *replayed,
            })
        });
        Ok(futures_util::stream::iter(item))
    }
}
