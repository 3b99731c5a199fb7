//! Version history of workflow definitions. A definition is a workflow's name, description,
//! type, steps and input schema; creating a workflow records version 1, and every update that
//! changes the definition records the next number. Status and owner are not part of it.
use super::steps::{Changes, diff_steps};
use crate::auth::AuthContext;
use crate::entity::{workflow, workflow_version};
use crate::error::{AppError, AppResult};
use crate::tenancy;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// Records the workflow's current definition as its version `wf.version`.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    wf: &workflow::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let row = workflow_version::Model {
        id: Uuid::now_v7(),
        company_id: wf.company_id,
        workflow_id: wf.id,
        version: wf.version,
        name: wf.name.clone(),
        description: wf.description.clone(),
        workflow_type: wf.workflow_type.clone(),
        steps: wf.steps.clone(),
        input_schema: wf.input_schema.clone(),
        created_by: auth.user_id,
        created_at: now,
        updated_at: now,
    };
    workflow_version::Entity::insert(workflow_version::ActiveModel::from(row))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Whether `new` defines a different workflow from `old` (and so is a new version).
pub(crate) fn changed(old: &workflow::Model, new: &workflow::Model) -> bool {
    (
        &old.name,
        &old.description,
        &old.workflow_type,
        &old.steps,
        &old.input_schema,
    ) != (
        &new.name,
        &new.description,
        &new.workflow_type,
        &new.steps,
        &new.input_schema,
    )
}

/// Every version of a workflow of the caller's company, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    workflow_id: Uuid,
) -> AppResult<Vec<workflow_version::Model>> {
    Ok(workflow_version::Entity::find()
        .filter(workflow_version::Column::CompanyId.eq(auth.company_id))
        .filter(workflow_version::Column::WorkflowId.eq(workflow_id))
        .order_by_asc(workflow_version::Column::Version)
        .all(db)
        .await?)
}

/// One version of a workflow of the caller's company.
pub async fn get(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    workflow_id: Uuid,
    version: i32,
) -> AppResult<workflow_version::Model> {
    tenancy::get::<workflow::Entity>(db, auth, workflow_id).await?;
    workflow_version::Entity::find()
        .filter(workflow_version::Column::CompanyId.eq(auth.company_id))
        .filter(workflow_version::Column::WorkflowId.eq(workflow_id))
        .filter(workflow_version::Column::Version.eq(version))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("version {version} of workflow {workflow_id}")))
}

/// What changed between two versions: the steps, by the same rules as template diffs, and
/// the rest of the definition by field.
#[derive(Clone, Debug, PartialEq, serde::Serialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDiff {
    pub from_version: i32,
    pub to_version: i32,
    pub steps: Changes,
    /// The other fields of the definition that differ: name, description, workflowType,
    /// inputSchema.
    pub fields_changed: Vec<String>,
    pub breaking: bool,
    pub breaking_reasons: Vec<String>,
}

pub fn diff(a: &workflow_version::Model, b: &workflow_version::Model) -> WorkflowDiff {
    let (steps, reasons) = diff_steps(&a.steps, &b.steps);
    let mut fields_changed = Vec::new();
    for (name, differs) in [
        ("name", a.name != b.name),
        ("description", a.description != b.description),
        ("workflowType", a.workflow_type != b.workflow_type),
        ("inputSchema", a.input_schema != b.input_schema),
    ] {
        if differs {
            fields_changed.push(name.to_string());
        }
    }
    WorkflowDiff {
        from_version: a.version,
        to_version: b.version,
        steps,
        fields_changed,
        breaking: !reasons.is_empty(),
        breaking_reasons: reasons,
    }
}
