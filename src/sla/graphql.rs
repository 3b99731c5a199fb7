//! SLAs' part of the schema: definitions, breaches and acknowledgement (the live stream's
//! subscription is in `live/`).
use super::Severity;
use super::channel_graphql::{AlertChannel, AlertDelivery, EscalationLevel};
use super::service::{self, BreachFilter, SlaFields};
use super::slo::{BreachTimeline, SloReport};
use crate::auth::CtxAuth;
use crate::entity::execution::Model as Execution;
use crate::entity::{breach, breach_count, sla};
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::loaders;
use crate::graphql_base::pagination::{
    ConnectionFields, Page, paginate, paginate_fetched, sum_select,
};
use crate::graphql_base::types::User;
use crate::ids::parse_id;
use crate::model::stored;
use crate::tenancy;
use crate::workflows::objects::Workflow;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject};
use std::sync::Arc;

pub type Sla = sla::Model;

#[ComplexObject]
impl Sla {
    async fn workflow(&self, ctx: &Context<'_>) -> Result<Option<Arc<Workflow>>> {
        loaders::one(&ctx.loaders()?.workflows, self.workflow_id).await
    }
    /// Extra recipients of this SLA's alerts.
    async fn alert_recipients(&self) -> Vec<String> {
        serde_json::from_value(self.alert_recipients.clone()).unwrap_or_default()
    }
    /// The channels a breach is sent through, besides email.
    async fn alert_channels(&self, ctx: &Context<'_>) -> Result<Vec<AlertChannel>> {
        super::channel_graphql::sla_channels(ctx, self).await
    }
    /// Which executions it applies to (a condition over their input); null: all of its
    /// workflow's.
    async fn applies_when(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.applies_when.clone().map(async_graphql::Json)
    }
    /// While which steps its clock stops: a condition over `step.name`, `step.actionType`,
    /// `step.approver` and `input`, checked as each step is recorded; null: only
    /// `pauseExecutionSla` pauses it.
    async fn pause_when(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.pause_when.clone().map(async_graphql::Json)
    }
    /// The business-hours calendar its durations count by; null: wall-clock time.
    async fn calendar(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::calendar_graphql::Calendar>> {
        let Some(id) = self.calendar_id else {
            return Ok(None);
        };
        let db = &ctx.state()?.db;
        Ok(
            tenancy::get::<crate::entity::calendar::Entity>(db, ctx.auth()?, id)
                .await
                .ok(),
        )
    }
    /// Escalation levels, in order: after each one's delay unacknowledged, its recipients and
    /// channels are told; acknowledgement stops the rest.
    async fn escalation(&self) -> Vec<EscalationLevel> {
        super::channel_graphql::sla_escalation(self)
    }
    /// SLO figures over executions completed in the last `windowHours` (default: the SLA's
    /// window). Windows start at a whole second (the request's time taken to the second), so
    /// one may hold up to a second more than its length.
    async fn metrics(&self, ctx: &Context<'_>, window_hours: Option<i32>) -> Result<SloReport> {
        let st = ctx.state()?;
        let w = window_hours.unwrap_or(self.slo_window_hours);
        Ok(service::slo_report(&st.db, self, w, st.clock.now()).await?)
    }
    /// Breaches detected per bucket over the last `hours` (default 24) in buckets of
    /// `bucketMinutes` (default 60): the series behind a breaches-per-hour sparkline.
    async fn breach_timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 24)] hours: i32,
        #[graphql(default = 60)] bucket_minutes: i32,
    ) -> Result<BreachTimeline> {
        let st = ctx.state()?;
        let now = st.clock.now();
        Ok(service::breach_timeline(&st.db, self, hours, bucket_minutes, now).await?)
    }
}

/// Unacknowledged breaches of one SLA at one severity.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct BreachGroup {
    #[graphql(skip)]
    pub sla_id: uuid::Uuid,
    #[graphql(skip)]
    pub severity: String,
    pub count: i64,
}

#[ComplexObject]
impl BreachGroup {
    async fn sla(&self, ctx: &Context<'_>) -> Result<Option<Arc<Sla>>> {
        loaders::one(&ctx.loaders()?.slas, self.sla_id).await
    }
    async fn severity(&self) -> Result<Severity> {
        Ok(stored(Severity::parse, &self.severity)?)
    }
}

pub type SlaBreach = breach::Model;

#[ComplexObject]
impl SlaBreach {
    async fn sla(&self, ctx: &Context<'_>) -> Result<Option<Arc<Sla>>> {
        loaders::one(&ctx.loaders()?.slas, self.sla_id).await
    }
    async fn execution(&self, ctx: &Context<'_>) -> Result<Option<Arc<Execution>>> {
        loaders::one(&ctx.loaders()?.executions, self.execution_id).await
    }
    async fn severity(&self) -> Result<Severity> {
        Ok(stored(Severity::parse, &self.severity)?)
    }
    /// `breachMarginSeconds` as a percentage of the threshold this breach crossed.
    async fn breach_margin_percentage(&self) -> f64 {
        super::figures::margins(self).over_threshold_percentage
    }
    /// actual − target: how far over the target (negative for a warning breach that has not
    /// reached it).
    async fn target_margin_seconds(&self) -> f64 {
        super::figures::margins(self).over_target_seconds
    }
    /// `targetMarginSeconds` as a percentage of the target.
    async fn target_margin_percentage(&self) -> f64 {
        super::figures::margins(self).over_target_percentage
    }
    async fn alert_recipients(&self) -> Vec<String> {
        serde_json::from_value(self.alert_recipients.clone()).unwrap_or_default()
    }
    /// Wall-clock seconds from the execution's start to its completion (while it runs: to the
    /// breach's detection). Equals `actualDurationSeconds` unless the SLA counts business time.
    async fn elapsed_seconds(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        let e: Option<Arc<Execution>> =
            loaders::one(&ctx.loaders()?.executions, self.execution_id).await?;
        Ok(e.map(|e| {
            let end = e.completed_at.unwrap_or(self.detected_at);
            (end - e.started_at).num_milliseconds() as f64 / 1e3
        }))
    }
    /// Whether `actualDurationSeconds` and the margins count business time (the SLA has a
    /// calendar).
    async fn business_time(&self, ctx: &Context<'_>) -> Result<bool> {
        let s: Option<Arc<Sla>> = loaders::one(&ctx.loaders()?.slas, self.sla_id).await?;
        Ok(s.is_some_and(|s| s.calendar_id.is_some()))
    }
    /// Evidence: when this breach's SLA clock was paused, by `pauseExecutionSla` or by its own
    /// pause condition (paused time does not count in `actualDurationSeconds`).
    async fn pauses(&self, ctx: &Context<'_>) -> Result<Vec<super::pauses::SlaPause>> {
        let sla = Some(self.sla_id);
        super::pauses::listed(ctx, self.execution_id, self.company_id, sla).await
    }
    /// Every alert of this breach: email and channels, escalation levels, resolves.
    async fn deliveries(&self, ctx: &Context<'_>) -> Result<Vec<AlertDelivery>> {
        super::channel_graphql::breach_deliveries(ctx, self).await
    }
    async fn acknowledged_by(&self, ctx: &Context<'_>) -> Result<Option<Arc<User>>> {
        crate::graphql_base::types::user_by_id(ctx, self.acknowledged_by).await
    }
}

#[derive(InputObject, Default, Clone)]
pub struct BreachFilterInput {
    pub acknowledged: Option<bool>,
    pub severity: Option<Severity>,
    pub sla_id: Option<ID>,
    pub workflow_id: Option<ID>,
}

fn breach_filter(f: Option<BreachFilterInput>) -> Result<BreachFilter> {
    let f = f.unwrap_or_default();
    Ok(BreachFilter {
        acknowledged: f.acknowledged,
        severity: f.severity,
        sla_id: f.sla_id.as_ref().map(|i| parse_id(i, "SLA")).transpose()?,
        workflow_id: f
            .workflow_id
            .as_ref()
            .map(|i| parse_id(i, "workflow"))
            .transpose()?,
    })
}

/// One page of the caller's company's breaches that `f` selects.
async fn breach_page(
    ctx: &Context<'_>,
    f: BreachFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Page<SlaBreach>> {
    let (auth, db) = (ctx.auth()?, &ctx.state()?.db);
    let counts = service::breach_counts(auth, &f);
    let total = ctx.look_ahead().field("totalCount").exists();
    let count = total.then(|| {
        sea_orm::QueryTrait::into_query(sum_select(counts.clone(), breach_count::Column::N))
    });
    let (want, loaders) = (wanted(ctx), ctx.loaders()?);
    let fetch = |page| async move {
        let (rows, n) = super::joined::fetch(db, page, want, count, loaders).await?;
        // Not selected, or an empty page (which carries no count): counted when resolved.
        let fields = match n {
            Some(n) => ConnectionFields::known(n),
            None => ConnectionFields::sum_of(db, counts, breach_count::Column::N),
        };
        Ok((rows, fields))
    };
    let q = service::breaches(auth, &f);
    Ok(paginate_fetched(q, first, after, fetch).await?)
}

/// Which of a breach's relations the selection reaches, under `edges { node }` or `nodes`.
fn wanted(ctx: &Context<'_>) -> super::joined::Wanted {
    let la = ctx.look_ahead();
    let nodes = [la.field("edges").field("node"), la.field("nodes")];
    let has = |f: &str| nodes.iter().any(|n| n.field(f).exists());
    super::joined::Wanted {
        sla: has("sla"),
        execution: has("execution"),
        workflow: nodes
            .iter()
            .any(|n| n.field("execution").field("workflow").exists()),
    }
}

#[derive(Default)]
pub struct SlaQuery;

#[Object]
impl SlaQuery {
    /// SLAs, optionally of one workflow.
    async fn slas(
        &self,
        ctx: &Context<'_>,
        workflow_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Sla>> {
        let workflow_id = workflow_id.map(|w| parse_id(&w, "workflow")).transpose()?;
        let q = service::slas(ctx.auth()?, workflow_id);
        Ok(paginate(&ctx.state()?.db, q, first, after).await?)
    }

    async fn sla(&self, ctx: &Context<'_>, id: ID) -> Result<Sla> {
        let auth = ctx.auth()?;
        Ok(tenancy::get::<sla::Entity>(&ctx.state()?.db, auth, parse_id(&id, "SLA")?).await?)
    }

    async fn sla_breaches(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<BreachFilterInput>,
    ) -> Result<Page<SlaBreach>> {
        breach_page(ctx, breach_filter(filter)?, first, after).await
    }

    /// Breaches nobody has acknowledged yet.
    async fn unacknowledged_breaches(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "Narrows the list further; its `acknowledged` is ignored.")]
        filter: Option<BreachFilterInput>,
    ) -> Result<Page<SlaBreach>> {
        let f = BreachFilter {
            acknowledged: Some(false),
            ..breach_filter(filter)?
        };
        breach_page(ctx, f, first, after).await
    }

    /// Unacknowledged breaches per (SLA, severity), most first: the board's groups. Read
    /// from the kept counts, so the cost does not grow with the breaches.
    async fn unacknowledged_breach_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the groups; its `acknowledged` is ignored.")] filter: Option<
            BreachFilterInput,
        >,
    ) -> Result<Vec<BreachGroup>> {
        let f = BreachFilter {
            acknowledged: Some(false),
            ..breach_filter(filter)?
        };
        let (auth, db) = (ctx.auth()?, &ctx.state()?.db);
        let rows = service::breach_counts(auth, &f)
            .all(db)
            .await
            .map_err(AppError::from)?;
        // A group's count is the sum of its shards (`sla::shards`).
        let mut sums: std::collections::HashMap<(uuid::Uuid, String), i64> = Default::default();
        for r in rows {
            *sums.entry((r.sla_id, r.severity)).or_default() += r.n;
        }
        let mut groups: Vec<BreachGroup> = sums
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|((sla_id, severity), count)| BreachGroup {
                sla_id,
                severity,
                count,
            })
            .collect();
        groups.sort_by(|a, b| {
            (b.count.cmp(&a.count))
                .then(a.sla_id.cmp(&b.sla_id))
                .then(a.severity.cmp(&b.severity))
        });
        Ok(groups)
    }

    async fn sla_breach(&self, ctx: &Context<'_>, id: ID) -> Result<SlaBreach> {
        let auth = ctx.auth()?;
        Ok(service::get_breach(&ctx.state()?.db, auth, parse_id(&id, "breach")?).await?)
    }
}

#[derive(InputObject)]
pub struct CreateSlaInput {
    pub workflow_id: ID,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub target_duration_seconds: i64,
    /// Defaults to 80 % of the target.
    pub warning_threshold_seconds: Option<i64>,
    /// Defaults to the target.
    pub critical_threshold_seconds: Option<i64>,
    #[graphql(default = 24)]
    pub slo_window_hours: i32,
    #[graphql(default = 99.0)]
    pub slo_target_percentage: f64,
    #[graphql(default)]
    pub alert_recipients: Vec<String>,
    #[graphql(default = true)]
    pub is_active: bool,
    /// The company's alert channels a breach is sent through, besides email.
    #[graphql(default)]
    pub alert_channel_ids: Vec<ID>,
    /// Escalation levels: after each level's delay unacknowledged, its recipients and channels
    /// are told.
    #[graphql(default)]
    pub escalation: Vec<service::EscalationLevelInput>,
    /// A business-hours calendar: its targets and thresholds then count business time.
    pub calendar_id: Option<ID>,
    /// Which executions it applies to: a condition over their input such as
    /// `{"priority": "high"}`; left out, all of its workflow's. Every applicable SLA is
    /// attached to an execution.
    pub applies_when: Option<async_graphql::Json<serde_json::Value>>,
    /// While which steps its clock stops: a condition over the recorded step (`step.name`,
    /// `step.actionType`, `step.approver`) and the execution's `input`, such as
    /// `{"step.name": "Waiting for customer"}`. A matching step pauses it from its start to its
    /// end (or to the start of the next step recorded).
    pub pause_when: Option<async_graphql::Json<serde_json::Value>>,
}

#[derive(InputObject)]
pub struct UpdateSlaInput {
    pub id: ID,
    #[graphql(flatten)]
    pub fields: SlaFields,
}

#[derive(InputObject)]
pub struct DeleteSlaInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct AcknowledgeBreachInput {
    pub id: ID,
    #[graphql(default)]
    pub notes: String,
}

#[derive(SimpleObject)]
pub struct SlaPayload {
    pub sla: Sla,
}

#[derive(SimpleObject)]
pub struct AcknowledgeBreachPayload {
    pub breach: SlaBreach,
}

#[derive(Default)]
pub struct SlaMutation;

#[Object]
impl SlaMutation {
    async fn create_sla(&self, ctx: &Context<'_>, input: CreateSlaInput) -> Result<SlaPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let wid = parse_id(&input.workflow_id, "workflow")?;
        let m = service::create(
            &st.db,
            auth,
            wid,
            SlaFields {
                name: Some(input.name),
                description: Some(input.description),
                target_duration_seconds: Some(input.target_duration_seconds),
                warning_threshold_seconds: input.warning_threshold_seconds,
                critical_threshold_seconds: input.critical_threshold_seconds,
                slo_window_hours: Some(input.slo_window_hours),
                slo_target_percentage: Some(input.slo_target_percentage),
                alert_recipients: Some(input.alert_recipients),
                is_active: Some(input.is_active),
                alert_channel_ids: Some(input.alert_channel_ids),
                escalation: Some(input.escalation),
                calendar_id: input.calendar_id.map(Some).into(),
                applies_when: input.applies_when.map(Some).into(),
                pause_when: input.pause_when.map(Some).into(),
            },
            st.clock.now(),
        )
        .await?;
        st.sla.slas_changed(st).await;
        Ok(SlaPayload { sla: m })
    }

    async fn update_sla(&self, ctx: &Context<'_>, input: UpdateSlaInput) -> Result<SlaPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let id = parse_id(&input.id, "SLA")?;
        let m = service::update(&st.db, auth, id, input.fields, st.clock.now()).await?;
        st.sla.slas_changed(st).await;
        Ok(SlaPayload { sla: m })
    }

    async fn delete_sla(
        &self,
        ctx: &Context<'_>,
        input: DeleteSlaInput,
    ) -> Result<crate::graphql_base::types::DeletePayload> {
        let auth = ctx.writer()?;
        tenancy::delete::<sla::Entity>(&ctx.state()?.db, auth, parse_id(&input.id, "SLA")?).await?;
        Ok(crate::graphql_base::types::DeletePayload {
            deleted_id: input.id,
        })
    }

    /// Records who acknowledged a breach, when, and why. Acknowledging again is a CONFLICT.
    async fn acknowledge_breach(
        &self,
        ctx: &Context<'_>,
        input: AcknowledgeBreachInput,
    ) -> Result<AcknowledgeBreachPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let b = service::acknowledge(
            &st.writer,
            auth,
            parse_id(&input.id, "breach")?,
            input.notes,
            st.clock.now(),
        )
        .await?;
        st.sla.events_committed(&st.writer).await;
        Ok(AcknowledgeBreachPayload { breach: b })
    }
}
