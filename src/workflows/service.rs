//! Workflow persistence, always scoped to the caller's company.
use super::steps::{compile, parse_steps};
use crate::auth::AuthContext;
use crate::catalog::schema::check_schema;
use crate::entity::{user, workflow};
use crate::error::{AppError, AppResult};
use crate::model::{WorkflowStatus, WorkflowType};
use crate::tenancy;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select, Set,
    TransactionSession, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct WorkflowFields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub workflow_type: Option<WorkflowType>,
    pub status: Option<WorkflowStatus>,
    pub steps: Option<Value>,
    /// `Some(None)` clears the schema.
    pub input_schema: Option<Option<Value>>,
    pub owner_id: Option<Uuid>,
}

#[derive(Clone, Debug, Default)]
pub struct WorkflowFilter {
    pub status: Option<WorkflowStatus>,
    pub workflow_type: Option<WorkflowType>,
    pub owner_id: Option<Uuid>,
    pub search: Option<String>,
}

pub fn filtered(auth: &AuthContext, f: &WorkflowFilter) -> Select<workflow::Entity> {
    let mut q = tenancy::scoped::<workflow::Entity>(auth);
    if let Some(s) = f.status {
        q = q.filter(workflow::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = f.workflow_type {
        q = q.filter(workflow::Column::WorkflowType.eq(t.as_str()));
    }
    if let Some(o) = f.owner_id {
        q = q.filter(workflow::Column::OwnerId.eq(o));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(workflow::Column::Name.contains(s));
    }
    q
}

fn check_steps(steps: &Value) -> AppResult<()> {
    compile(steps).map(|_| ()).map_err(AppError::BadInput)
}

fn check_input_schema(s: &Option<Value>) -> AppResult<()> {
    if let Some(s) = s {
        check_schema(s)
            .map_err(|e| AppError::bad(format!("inputSchema is not a valid JSON Schema: {e}")))?;
    }
    Ok(())
}

/// An owner must be a user of the caller's company.
async fn check_owner(db: &impl ConnectionTrait, auth: &AuthContext, owner: Uuid) -> AppResult<()> {
    let found = user::Entity::find()
        .filter(user::Column::CompanyId.eq(auth.company_id))
        .filter(user::Column::Id.eq(owner))
        .one(db)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| AppError::bad(format!("ownerId: no user {owner} in your company")))
}

/// Creates a workflow and records its definition as version 1 (in one transaction, a
/// savepoint when `db` is already one).
pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    f: WorkflowFields,
    now: DateTime<Utc>,
) -> AppResult<workflow::Model> {
    let name = crate::model::check_name(f.name.as_deref().unwrap_or_default())?;
    let steps = f.steps.unwrap_or_else(|| Value::Array(vec![]));
    check_steps(&steps)?;
    let input_schema = f.input_schema.flatten();
    check_input_schema(&input_schema)?;
    let owner = f.owner_id.or(auth.user_id);
    if let Some(o) = owner {
        check_owner(db, auth, o).await?;
    }
    let m = workflow::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(auth.company_id),
        name: Set(name),
        description: Set(f.description.unwrap_or_default()),
        workflow_type: Set(f
            .workflow_type
            .unwrap_or(WorkflowType::Custom)
            .as_str()
            .into()),
        status: Set(f.status.unwrap_or(WorkflowStatus::Draft).as_str().into()),
        steps: Set(steps),
        input_schema: Set(input_schema),
        owner_id: Set(owner),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = crate::db::begin_write(db).await?;
    let wf = m.insert(&txn).await?;
    super::versions::record(&txn, auth, &wf, now).await?;
    txn.commit().await?;
    Ok(wf)
}

/// Applies the changes; a changed definition is recorded as the next version, in the same
/// transaction.
pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    id: Uuid,
    f: WorkflowFields,
    now: DateTime<Utc>,
) -> AppResult<workflow::Model> {
    let txn = crate::db::begin_write(db).await?;
    let current = tenancy::get::<workflow::Entity>(&txn, auth, id).await?;
    let m = apply(&txn, auth, current.clone(), f).await?;
    let mut next = m.clone();
    next.updated_at = now;
    if super::versions::changed(&current, &next) {
        next.version = current.version + 1;
        super::versions::record(&txn, auth, &next, now).await?;
    }
    let am = workflow::ActiveModel::from(next).reset_all();
    let saved = am.update(&txn).await?;
    txn.commit().await?;
    Ok(saved)
}

/// The workflow with the given fields applied (checked, not yet saved).
async fn apply(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    current: workflow::Model,
    f: WorkflowFields,
) -> AppResult<workflow::Model> {
    let mut m = current;
    if let Some(n) = f.name {
        m.name = crate::model::check_name(&n)?;
    }
    if let Some(d) = f.description {
        m.description = d;
    }
    if let Some(t) = f.workflow_type {
        m.workflow_type = t.as_str().into();
    }
    if let Some(s) = f.status {
        m.status = s.as_str().into();
    }
    if let Some(s) = f.steps {
        check_steps(&s)?;
        m.steps = s;
    }
    if let Some(s) = f.input_schema {
        check_input_schema(&s)?;
        m.input_schema = s;
    }
    if let Some(o) = f.owner_id {
        check_owner(db, auth, o).await?;
        m.owner_id = Some(o);
    }
    Ok(m)
}

/// Makes a workflow ACTIVE. It needs at least one step; an archived workflow stays archived.
pub async fn activate(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<workflow::Model> {
    let current = tenancy::get::<workflow::Entity>(db, auth, id).await?;
    if current.status == WorkflowStatus::Archived.as_str() {
        return Err(AppError::conflict(
            "an archived workflow cannot be activated",
        ));
    }
    if current.status == WorkflowStatus::Active.as_str() {
        return Ok(current);
    }
    let steps = parse_steps(&current.steps).map_err(AppError::BadInput)?;
    if steps.is_empty() {
        return Err(AppError::bad(
            "a workflow needs at least one step to be activated",
        ));
    }
    let mut m: workflow::ActiveModel = current.into();
    m.status = Set(WorkflowStatus::Active.as_str().into());
    m.updated_at = Set(now);
    Ok(m.update(db).await?)
}
