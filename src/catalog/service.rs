//! Catalog persistence, always scoped to the caller's company.
use super::schema::{SchemaViolation, check_schema, violations};
use crate::auth::AuthContext;
use crate::entity::action;
use crate::error::{AppError, AppResult};
use crate::model::LatencyClass;
use crate::tenancy;
use async_graphql::{InputObject, MaybeUndefined};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, Select, Set};
use serde_json::Value;
use uuid::Uuid;

/// The fields a caller may set on an action; on an update, a field left out keeps its value.
#[derive(Clone, Debug, Default, InputObject)]
#[graphql(name = "ActionFieldsInput")]
pub struct ActionFields {
    pub name: Option<String>,
    pub action_type: Option<String>,
    pub description: Option<String>,
    pub is_idempotent: Option<bool>,
    pub latency_class: Option<LatencyClass>,
    pub side_effects: Option<Vec<String>>,
    /// `null` removes the schema; leaving the field out keeps it.
    pub input_schema: MaybeUndefined<Value>,
    pub output_schema: MaybeUndefined<Value>,
    pub is_active: Option<bool>,
}

#[derive(Clone, Debug, Default)]
pub struct ActionFilter {
    pub action_type: Option<String>,
    pub latency_class: Option<LatencyClass>,
    pub is_active: Option<bool>,
    pub search: Option<String>,
}

pub fn validate_action_type(t: &str) -> AppResult<()> {
    let ok = !t.is_empty()
        && t.len() <= 100
        && t.starts_with(|c: char| c.is_ascii_lowercase())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::bad(format!(
            "actionType {t:?} must start with a lower-case letter and use only a-z, 0-9, '_', '.' or '-' (at most 100 characters)"
        )))
    }
}

fn check_schema_field(field: &str, v: &Option<Value>) -> AppResult<()> {
    if let Some(s) = v {
        check_schema(s)
            .map_err(|e| AppError::bad(format!("{field} is not a valid JSON Schema: {e}")))?;
    }
    Ok(())
}

pub fn filtered(auth: &AuthContext, f: &ActionFilter) -> Select<action::Entity> {
    let mut q = tenancy::scoped::<action::Entity>(auth);
    if let Some(t) = &f.action_type {
        q = q.filter(action::Column::ActionType.eq(t.as_str()));
    }
    if let Some(l) = f.latency_class {
        q = q.filter(action::Column::LatencyClass.eq(l.as_str()));
    }
    if let Some(a) = f.is_active {
        q = q.filter(action::Column::IsActive.eq(a));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(action::Column::Name.contains(s));
    }
    q
}

pub async fn by_type(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    action_type: &str,
) -> AppResult<action::Model> {
    tenancy::scoped::<action::Entity>(auth)
        .filter(action::Column::ActionType.eq(action_type))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("action type {action_type:?}")))
}

async fn ensure_type_free(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    action_type: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let mut q =
        tenancy::scoped::<action::Entity>(auth).filter(action::Column::ActionType.eq(action_type));
    if let Some(id) = except {
        q = q.filter(action::Column::Id.ne(id));
    }
    if q.one(db).await?.is_some() {
        return Err(AppError::conflict(format!(
            "an action with actionType {action_type:?} already exists"
        )));
    }
    Ok(())
}

pub async fn create(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    f: ActionFields,
    now: DateTime<Utc>,
) -> AppResult<action::Model> {
    let name = crate::model::check_name(f.name.as_deref().unwrap_or_default())?;
    let action_type = f.action_type.unwrap_or_default();
    validate_action_type(&action_type)?;
    let input_schema = f.input_schema.take();
    let output_schema = f.output_schema.take();
    check_schema_field("inputSchema", &input_schema)?;
    check_schema_field("outputSchema", &output_schema)?;
    ensure_type_free(db, auth, &action_type, None).await?;
    let m = action::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(auth.company_id),
        name: Set(name),
        action_type: Set(action_type),
        description: Set(f.description.unwrap_or_default()),
        is_idempotent: Set(f.is_idempotent.unwrap_or(false)),
        latency_class: Set(f
            .latency_class
            .unwrap_or(LatencyClass::Medium)
            .as_str()
            .into()),
        side_effects: Set(serde_json::json!(f.side_effects.unwrap_or_default())),
        input_schema: Set(input_schema),
        output_schema: Set(output_schema),
        execution_count: Set(0),
        success_count: Set(0),
        avg_execution_time_ms: Set(0.0),
        success_rate: Set(0.0),
        is_active: Set(f.is_active.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(m.insert(db).await?)
}

pub async fn update(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
    f: ActionFields,
    now: DateTime<Utc>,
) -> AppResult<action::Model> {
    let current = tenancy::get::<action::Entity>(db, auth, id).await?;
    let mut m: action::ActiveModel = current.into();
    if let Some(n) = f.name {
        m.name = Set(crate::model::check_name(&n)?);
    }
    if let Some(t) = f.action_type {
        validate_action_type(&t)?;
        ensure_type_free(db, auth, &t, Some(id)).await?;
        m.action_type = Set(t);
    }
    if let Some(d) = f.description {
        m.description = Set(d);
    }
    if let Some(i) = f.is_idempotent {
        m.is_idempotent = Set(i);
    }
    if let Some(l) = f.latency_class {
        m.latency_class = Set(l.as_str().into());
    }
    if let Some(s) = f.side_effects {
        m.side_effects = Set(serde_json::json!(s));
    }
    if let Some(s) = Option::from(f.input_schema) {
        check_schema_field("inputSchema", &s)?;
        m.input_schema = Set(s);
    }
    if let Some(s) = Option::from(f.output_schema) {
        check_schema_field("outputSchema", &s)?;
        m.output_schema = Set(s);
    }
    if let Some(a) = f.is_active {
        m.is_active = Set(a);
    }
    m.updated_at = Set(now);
    Ok(m.update(db).await?)
}

/// Checks `input` against the input schema of the caller's action of that type.
pub async fn validate_input(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    action_type: &str,
    input: &Value,
) -> AppResult<Vec<SchemaViolation>> {
    let a = by_type(db, auth, action_type).await?;
    match &a.input_schema {
        None => Ok(Vec::new()),
        Some(s) => {
            violations(s, input).map_err(|e| AppError::Internal(format!("stored schema: {e}")))
        }
    }
}
