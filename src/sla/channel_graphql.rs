//! Alert channels and escalation in the schema: a company's channels (their secrets never
//! returned), each SLA's channels and escalation levels, and each breach's deliveries.
use super::channels::{self, ChannelKind};
use super::escalation;
use super::graphql::{Sla, SlaBreach};
use crate::auth::CtxAuth;
use crate::entity::{alert_channel, alert_outbox};
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::pagination::{Page, paginate};
use crate::ids::parse_id;
use crate::model::stored;
use crate::tenancy;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

pub type AlertChannel = alert_channel::Model;

#[ComplexObject]
impl AlertChannel {
    async fn kind(&self) -> Result<ChannelKind> {
        Ok(stored(ChannelKind::parse, &self.kind)?)
    }
    /// Scheme, host and port only: the rest of the URL may hold a credential.
    async fn url(&self) -> String {
        channels::shown_url(&self.url)
    }
    /// Whether a secret is set (it is never returned).
    async fn has_secret(&self) -> bool {
        !self.secret.0.is_empty()
    }
}

/// One escalation level of an SLA.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct EscalationLevel {
    pub after_minutes: i64,
    pub recipients: Vec<String>,
    #[graphql(skip)]
    pub channel_ids: Vec<Uuid>,
}

#[ComplexObject]
impl EscalationLevel {
    async fn channels(&self, ctx: &Context<'_>) -> Result<Vec<AlertChannel>> {
        channels_of(ctx, &self.channel_ids).await
    }
}

/// The caller's company's channels among `ids`, in that order (a deleted one is left out).
async fn channels_of(ctx: &Context<'_>, ids: &[Uuid]) -> Result<Vec<AlertChannel>> {
    let auth = ctx.auth()?;
    let found = tenancy::scoped::<alert_channel::Entity>(auth)
        .filter(alert_channel::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.state()?.db)
        .await
        .map_err(AppError::from)?;
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|c| c.id == *id).cloned())
        .collect())
}

/// An SLA's channels (the `Sla.alertChannels` field).
pub async fn sla_channels(ctx: &Context<'_>, s: &Sla) -> Result<Vec<AlertChannel>> {
    let ids: Vec<Uuid> = serde_json::from_value(s.alert_channel_ids.clone()).unwrap_or_default();
    channels_of(ctx, &ids).await
}

/// An SLA's escalation levels (the `Sla.escalation` field).
pub fn sla_escalation(s: &Sla) -> Vec<EscalationLevel> {
    escalation::levels(&s.escalation)
        .into_iter()
        .map(|l| EscalationLevel {
            after_minutes: l.after_minutes,
            recipients: l.recipients,
            channel_ids: l.channel_ids,
        })
        .collect()
}

/// One alert of a breach through one target, as the outbox holds it.
#[derive(SimpleObject)]
pub struct AlertDelivery {
    /// `email`, or the channel's name.
    pub target: String,
    pub channel_id: Option<ID>,
    /// 0: the breach's own alert; n: escalation level n.
    pub level: i32,
    /// `trigger`, or `resolve` (sent on acknowledgement).
    pub action: String,
    /// pending, sending, sent, failed or cancelled.
    pub status: String,
    pub attempts: i32,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A breach's alerts (the `SlaBreach.deliveries` field).
pub async fn breach_deliveries(ctx: &Context<'_>, b: &SlaBreach) -> Result<Vec<AlertDelivery>> {
    let db = &ctx.state()?.db;
    let rows = alert_outbox::Entity::find()
        .filter(alert_outbox::Column::BreachId.eq(b.id))
        .filter(alert_outbox::Column::CompanyId.eq(b.company_id))
        .order_by_asc(alert_outbox::Column::Level)
        .order_by_asc(alert_outbox::Column::CreatedAt)
        .all(db)
        .await
        .map_err(AppError::from)?;
    let ids: Vec<Uuid> = rows.iter().filter_map(|r| r.target.parse().ok()).collect();
    let named = channels_of(ctx, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let channel = r.target.parse::<Uuid>().ok();
            let name = channel.and_then(|id| named.iter().find(|c| c.id == id));
            AlertDelivery {
                target: match (channel, name) {
                    (None, _) => r.target.clone(),
                    (Some(_), Some(c)) => c.name.clone(),
                    (Some(_), None) => "(deleted channel)".into(),
                },
                channel_id: channel.map(|c| ID(c.to_string())),
                level: r.level,
                action: r.action,
                status: r.status,
                attempts: r.attempts,
                due_at: r.next_attempt_at,
                sent_at: r.sent_at,
                last_error: r.last_error,
            }
        })
        .collect())
}

#[derive(Default)]
pub struct ChannelQuery;

#[Object]
impl ChannelQuery {
    /// The company's alert channels.
    async fn alert_channels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<AlertChannel>> {
        let q = tenancy::scoped::<alert_channel::Entity>(ctx.auth()?);
        Ok(paginate(&ctx.state()?.db, q, first, after).await?)
    }
}

#[derive(InputObject)]
pub struct CreateAlertChannelInput {
    pub name: String,
    pub kind: ChannelKind,
    /// Where to POST: the webhook's URL, the Slack incoming-webhook URL, PagerDuty's Events
    /// API v2 endpoint (`https://events.pagerduty.com/v2/enqueue`), or Alertmanager's
    /// `…/api/v2/alerts`.
    pub url: String,
    /// The webhook's signing secret (16 characters or more), or PagerDuty's routing key.
    #[graphql(default)]
    pub secret: String,
    #[graphql(default = true)]
    pub is_active: bool,
}

#[derive(InputObject)]
pub struct UpdateAlertChannelInput {
    pub id: ID,
    pub name: Option<String>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub is_active: Option<bool>,
}

#[derive(InputObject)]
pub struct DeleteAlertChannelInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct AlertChannelPayload {
    pub alert_channel: AlertChannel,
}

#[derive(Default)]
pub struct ChannelMutation;

#[Object]
impl ChannelMutation {
    async fn create_alert_channel(
        &self,
        ctx: &Context<'_>,
        input: CreateAlertChannelInput,
    ) -> Result<AlertChannelPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let name = input.name.trim().to_string();
        if name.is_empty() {
            return Err(AppError::bad("name must not be empty").into());
        }
        channels::validate(input.kind, &input.url, &input.secret)?;
        let now = st.clock.now();
        let m = alert_channel::Model {
            id: Uuid::now_v7(),
            company_id: auth.company_id,
            name,
            kind: input.kind.as_str().into(),
            url: input.url,
            secret: alert_channel::Secret(input.secret),
            is_active: input.is_active,
            created_at: now,
            updated_at: now,
        };
        let m = alert_channel::Entity::insert(m.into_active_model())
            .exec_with_returning(&st.db)
            .await
            .map_err(AppError::from)?;
        Ok(AlertChannelPayload { alert_channel: m })
    }

    async fn update_alert_channel(
        &self,
        ctx: &Context<'_>,
        input: UpdateAlertChannelInput,
    ) -> Result<AlertChannelPayload> {
        let auth = ctx.writer()?;
        let st = ctx.state()?;
        let id = parse_id(&input.id, "alert channel")?;
        let m = tenancy::get::<alert_channel::Entity>(&st.db, auth, id).await?;
        let kind = stored(ChannelKind::parse, &m.kind)?;
        let url = input.url.unwrap_or_else(|| m.url.clone());
        let secret = input.secret.unwrap_or_else(|| m.secret.0.clone());
        channels::validate(kind, &url, &secret)?;
        let mut am = m.into_active_model();
        if let Some(n) = input.name {
            let n = n.trim().to_string();
            if n.is_empty() {
                return Err(AppError::bad("name must not be empty").into());
            }
            am.name = Set(n);
        }
        am.url = Set(url);
        am.secret = Set(alert_channel::Secret(secret));
        if let Some(a) = input.is_active {
            am.is_active = Set(a);
        }
        am.updated_at = Set(st.clock.now());
        let m = am.update(&st.db).await.map_err(AppError::from)?;
        Ok(AlertChannelPayload { alert_channel: m })
    }

    async fn delete_alert_channel(
        &self,
        ctx: &Context<'_>,
        input: DeleteAlertChannelInput,
    ) -> Result<crate::graphql_base::types::DeletePayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.id, "alert channel")?;
        tenancy::delete::<alert_channel::Entity>(&ctx.state()?.db, auth, id).await?;
        Ok(crate::graphql_base::types::DeletePayload {
            deleted_id: input.id,
        })
    }
}
