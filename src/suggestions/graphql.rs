//! Suggestions' part of the schema.
use super::service::{self, Window};
use super::{SuggestionSource, SuggestionStatus, SuggestionType};
use crate::auth::CtxAuth;
use crate::entity::suggestion;
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::loaders;
use crate::graphql_base::pagination::{ConnectionFields, decode_offset, encode_offset, page_size};
use crate::graphql_base::types::User;
use crate::ids::parse_id;
use crate::model::{ApprovalDecision, stored};
use crate::tenancy;
use crate::workflows::objects::Workflow;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

pub type Suggestion = suggestion::Model;

#[ComplexObject]
impl Suggestion {
    async fn workflow(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<Workflow>>> {
        let Some(w) = self.workflow_id else {
            return Ok(None);
        };
        loaders::one(&ctx.loaders()?.workflows, w).await
    }
    async fn suggestion_type(&self) -> Result<SuggestionType> {
        Ok(stored(SuggestionType::parse, &self.suggestion_type)?)
    }
    async fn source(&self) -> Result<SuggestionSource> {
        Ok(stored(SuggestionSource::parse, &self.source)?)
    }
    async fn status(&self) -> Result<SuggestionStatus> {
        Ok(stored(SuggestionStatus::parse, &self.status)?)
    }
    async fn reviewed_by(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<User>>> {
        crate::graphql_base::types::user_by_id(ctx, self.reviewed_by).await
    }
}

#[derive(InputObject, Default)]
pub struct SuggestionFilterInput {
    pub status: Option<SuggestionStatus>,
    pub source: Option<SuggestionSource>,
    #[graphql(name = "type")]
    pub suggestion_type: Option<SuggestionType>,
    pub workflow_id: Option<ID>,
}

#[derive(Default)]
pub struct SuggestionQuery;

#[Object]
impl SuggestionQuery {
    /// Suggestions, highest confidence first.
    async fn suggestions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<SuggestionFilterInput>,
    ) -> Result<Connection<String, Suggestion, ConnectionFields>> {
        let auth = ctx.auth()?;
        let f = filter.unwrap_or_default();
        let mut q = tenancy::scoped::<suggestion::Entity>(auth);
        if let Some(s) = f.status {
            q = q.filter(suggestion::Column::Status.eq(s.as_str()));
        }
        if let Some(s) = f.source {
            q = q.filter(suggestion::Column::Source.eq(s.as_str()));
        }
        if let Some(t) = f.suggestion_type {
            q = q.filter(suggestion::Column::SuggestionType.eq(t.as_str()));
        }
        if let Some(w) = &f.workflow_id {
            q = q.filter(suggestion::Column::WorkflowId.eq(parse_id(w, "workflow")?));
        }
        let db = &ctx.state()?.db;
        let limit = page_size(first)?;
        // Ordered by confidence, so the cursor is a position.
        let offset = match after.as_deref() {
            Some(c) => decode_offset(c)? + 1,
            None => 0,
        };
        let fields = ConnectionFields::of(db, q.clone());
        let rows = q
            .order_by_desc(suggestion::Column::ConfidenceScore)
            .order_by_asc(suggestion::Column::Id)
            .offset(offset)
            .limit(limit + 1)
            .all(db)
            .await
            .map_err(AppError::from)?;
        let has_next = rows.len() as u64 > limit;
        let mut conn = Connection::with_additional_fields(offset > 0, has_next, fields);
        conn.edges.extend(
            rows.into_iter()
                .take(limit as usize)
                .enumerate()
                .map(|(i, m)| Edge::new(encode_offset(offset + i as u64), m)),
        );
        Ok(conn)
    }

    async fn suggestion(&self, ctx: &Context<'_>, id: ID) -> Result<Suggestion> {
        let auth = ctx.auth()?;
        Ok(
            tenancy::get::<suggestion::Entity>(
                &ctx.state()?.db,
                auth,
                parse_id(&id, "suggestion")?,
            )
            .await?,
        )
    }
}

#[derive(InputObject)]
pub struct GenerateSuggestionsInput {
    /// How far back to look, in days (30 unless `since` or `allHistory` is given).
    pub days: Option<i32>,
    /// Mine the executions that started at or after this moment instead.
    pub since: Option<DateTime<Utc>>,
    /// Mine the whole history (for old logs) instead.
    #[graphql(default)]
    pub all_history: bool,
    /// The least support a pattern needs.
    #[graphql(default = 10)]
    pub min_occurrences: i32,
    pub workflow_id: Option<ID>,
}

#[derive(InputObject)]
pub struct ReviewSuggestionInput {
    pub id: ID,
    #[graphql(default)]
    pub notes: String,
}

#[derive(InputObject)]
pub struct MarkSuggestionImplementedInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct GenerateSuggestionsPayload {
    /// New suggestions, highest confidence first.
    pub created: Vec<Suggestion>,
    /// Pending suggestions of the same patterns whose figures were refreshed.
    pub updated: i32,
    /// The optional LLM pass: status "off" unless LLM_BASE_URL is set.
    pub llm: super::llm::LlmReport,
    /// For each approval step, outcome and input attribute, the strongest one-attribute
    /// rule that history does not support well enough to suggest, strongest first (at most
    /// 50). It says why nothing was suggested on that attribute.
    pub near_misses: Vec<RuleNearMiss>,
    /// The history against the window: how much of it the window left out.
    pub history: HistorySpan,
}

/// The finished executions a generation looked at, inside and outside its window.
#[derive(SimpleObject)]
pub struct HistorySpan {
    /// Finished executions in all (of the workflow, when one was named).
    pub executions: i64,
    /// Of those, how many started before the window (and were not mined).
    pub outside_window: i64,
    pub first_started_at: Option<DateTime<Utc>>,
    pub last_started_at: Option<DateTime<Utc>>,
}

impl From<service::Span> for HistorySpan {
    fn from(s: service::Span) -> Self {
        HistorySpan {
            executions: s.executions as i64,
            outside_window: s.outside_window as i64,
            first_started_at: s.first_started_at,
            last_started_at: s.last_started_at,
        }
    }
}

/// A decision rule that fell short: its support and Wilson bound against the bar.
#[derive(SimpleObject)]
pub struct RuleNearMiss {
    pub workflow_id: ID,
    pub step: String,
    /// The outcome the rule would decide.
    pub decision: ApprovalDecision,
    /// The input attribute the rule reads.
    pub attribute: String,
    /// The rule in the condition language.
    pub condition: Json<Value>,
    /// The rule as text, such as `credit_score < 50`.
    pub rule: String,
    /// Decisions the rule covers.
    pub support: i32,
    /// Of those, how many people decided as the rule would.
    pub matching: i32,
    /// The 95 % Wilson lower bound of `matching / support`.
    pub wilson_lower_bound: f64,
    /// The bound a rule needs to be suggested.
    pub required_confidence: f64,
}

impl From<super::miners::NearMiss> for RuleNearMiss {
    fn from(m: super::miners::NearMiss) -> Self {
        RuleNearMiss {
            workflow_id: ID(m.workflow_id.to_string()),
            step: m.step,
            decision: m.decision,
            attribute: m.attribute,
            condition: Json(m.condition),
            rule: m.rule,
            support: m.support as i32,
            matching: m.matching as i32,
            wilson_lower_bound: m.wilson_lower_bound,
            required_confidence: super::miners::RULE_CONFIDENCE,
        }
    }
}

#[derive(SimpleObject)]
pub struct SuggestionPayload {
    pub suggestion: Suggestion,
}

/// The one window the input asks for.
fn window(input: &GenerateSuggestionsInput) -> Result<Window, AppError> {
    match (input.days, input.since, input.all_history) {
        (d, None, false) => Ok(Window::Days(d.unwrap_or(30) as i64)),
        (None, Some(t), false) => Ok(Window::Since(t)),
        (None, None, true) => Ok(Window::All),
        _ => Err(AppError::bad(
            "give at most one of days, since and allHistory",
        )),
    }
}

#[derive(Default)]
pub struct SuggestionMutation;

#[Object]
impl SuggestionMutation {
    /// Mines the last `days` of history (or everything `since` a moment, or `allHistory`) for AUTO_APPROVAL, AUTO_REJECTION, PARALLEL_APPROVAL,
    /// PERFORMANCE and ERROR_HANDLING suggestions.
    async fn generate_suggestions(
        &self,
        ctx: &Context<'_>,
        input: GenerateSuggestionsInput,
    ) -> Result<GenerateSuggestionsPayload> {
        let auth = ctx.writer()?;
        let wid = input
            .workflow_id
            .as_ref()
            .map(|w| parse_id(w, "workflow"))
            .transpose()?;
        let g = service::generate(
            ctx.state()?,
            auth,
            window(&input)?,
            input.min_occurrences.max(0) as usize,
            wid,
        )
        .await?;
        Ok(GenerateSuggestionsPayload {
            created: g.created,
            updated: g.updated as i32,
            near_misses: g.near_misses.into_iter().map(Into::into).collect(),
            history: g.span.into(),
            llm: g.llm.unwrap_or(super::llm::LlmReport {
                status: "off".into(),
                message: "set LLM_BASE_URL and LLM_MODEL to enable it".into(),
                ..Default::default()
            }),
        })
    }

    /// Moves an ACCEPTED suggestion to IMPLEMENTED.
    async fn mark_suggestion_implemented(
        &self,
        ctx: &Context<'_>,
        input: MarkSuggestionImplementedInput,
    ) -> Result<SuggestionPayload> {
        review(ctx, &input.id, SuggestionStatus::Implemented, None).await
    }

    /// Accepts a PENDING suggestion.
    async fn accept_suggestion(
        &self,
        ctx: &Context<'_>,
        input: ReviewSuggestionInput,
    ) -> Result<SuggestionPayload> {
        review(
            ctx,
            &input.id,
            SuggestionStatus::Accepted,
            Some(input.notes),
        )
        .await
    }

    /// Rejects a PENDING suggestion.
    async fn reject_suggestion(
        &self,
        ctx: &Context<'_>,
        input: ReviewSuggestionInput,
    ) -> Result<SuggestionPayload> {
        review(
            ctx,
            &input.id,
            SuggestionStatus::Rejected,
            Some(input.notes),
        )
        .await
    }
}

/// Moves a suggestion to `to` on behalf of the caller.
async fn review(
    ctx: &Context<'_>,
    id: &ID,
    to: SuggestionStatus,
    notes: Option<String>,
) -> Result<SuggestionPayload> {
    let auth = ctx.writer()?;
    let s = service::transition(ctx.state()?, auth, parse_id(id, "suggestion")?, to, notes).await?;
    Ok(SuggestionPayload { suggestion: s })
}
