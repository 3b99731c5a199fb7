//! Template persistence, scoped to the caller's company.
use super::body::{Invalid, TemplateBody, TemplateType};
use super::diff::TemplateDiff;
use super::semver::{self, parse_semver};
use super::{actions, blueprint, diff, validation, variables};
use crate::auth::AuthContext;
use crate::entity::{template, workflow};
use crate::error::{AppError, AppResult};
use crate::model::{WorkflowStatus, WorkflowType};
use crate::tenancy;
use crate::workflows::service::{self as workflows, WorkflowFields};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select, Set,
    TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

fn bad(e: Invalid) -> AppError {
    AppError::BadInput(format!("{}: {}", e.path, e.message))
}

/// The templates a company may read: its own, and every company's public ones (the
/// marketplace).
pub fn readable(auth: &AuthContext) -> Select<template::Entity> {
    template::Entity::find().filter(
        sea_orm::Condition::any()
            .add(template::Column::CompanyId.eq(auth.company_id))
            .add(template::Column::IsPublic.eq(true)),
    )
}

/// A template the caller may read (its own or a public one): for export, diff, BPMN and
/// instantiation.
pub async fn get(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
) -> AppResult<template::Model> {
    readable(auth)
        .filter(template::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("template {id}")))
}

/// A template the caller may change: its company's. Another company's public template is
/// FORBIDDEN (it is read-only here); anything else is NOT_FOUND.
pub async fn get_owned(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
) -> AppResult<template::Model> {
    let t = get(db, auth, id).await?;
    if t.company_id != auth.company_id {
        return Err(AppError::Forbidden(format!(
            "template {id} is another company's public template: read-only here (instantiate \
             it, or import its blueprint to make your own copy)"
        )));
    }
    Ok(t)
}

/// The stored template as a body (for export, diff and instantiation).
pub fn body(m: &template::Model) -> AppResult<TemplateBody> {
    Ok(TemplateBody {
        name: m.name.clone(),
        version: m.version.clone(),
        template_type: TemplateType::parse(&m.template_type).ok_or_else(|| {
            AppError::Internal(format!("stored template type {:?}", m.template_type))
        })?,
        description: m.description.clone(),
        process_steps: m.process_steps.clone(),
        variables: serde_json::from_value(m.variables.clone())
            .map_err(|e| AppError::Internal(format!("stored variables: {e}")))?,
        settings: m.settings.clone(),
        graph_spec: serde_json::from_value(m.graph_spec.clone())
            .map_err(|e| AppError::Internal(format!("stored graph: {e}")))?,
        is_public: m.is_public,
        actions: match &m.actions {
            Some(a) => serde_json::from_value(a.clone())
                .map_err(|e| AppError::Internal(format!("stored actions: {e}")))?,
            None => vec![],
        },
    })
}

/// Every version of a name, in semver order.
pub async fn versions(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    name: &str,
) -> AppResult<Vec<template::Model>> {
    let mut all = tenancy::scoped::<template::Entity>(auth)
        .filter(template::Column::Name.eq(name))
        .all(db)
        .await?;
    in_semver_order(&mut all);
    Ok(all)
}

/// Sorts versions by semver precedence (pre-releases before their release).
fn in_semver_order(all: &mut [template::Model]) {
    all.sort_by(|a, b| semver::precedence(&a.version, &b.version));
}

/// Every public version of a name, in semver order, when one company publishes it; several
/// publishers make the name ambiguous.
async fn public_versions(db: &impl ConnectionTrait, name: &str) -> AppResult<Vec<template::Model>> {
    let mut all = template::Entity::find()
        .filter(template::Column::Name.eq(name))
        .filter(template::Column::IsPublic.eq(true))
        .all(db)
        .await?;
    in_semver_order(&mut all);
    let publishers: std::collections::HashSet<Uuid> = all.iter().map(|t| t.company_id).collect();
    if publishers.len() > 1 {
        return Err(AppError::bad(format!(
            "{} companies publish a template named {name:?}: choose one by id \
             (processTemplates with scope MARKETPLACE lists them)",
            publishers.len()
        )));
    }
    Ok(all)
}

/// A version of a name, or the latest when none is given: the company's own, else the
/// marketplace's.
pub async fn by_name(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    name: &str,
    version: Option<&str>,
) -> AppResult<template::Model> {
    let mut all = versions(db, auth, name).await?;
    if all.is_empty() {
        all = public_versions(db, name).await?;
    }
    let found = match version {
        Some(v) => all.into_iter().find(|t| t.version == v),
        None => all.into_iter().last(),
    };
    found.ok_or_else(|| {
        AppError::not_found(format!(
            "template {name:?}{}",
            version.map(|v| format!(" version {v}")).unwrap_or_default()
        ))
    })
}

fn to_model(
    auth: &AuthContext,
    b: &TemplateBody,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<template::Model> {
    let (ma, mi, pa) =
        parse_semver(&b.version).ok_or_else(|| AppError::bad("version: not semver"))?;
    Ok(template::Model {
        id,
        company_id: auth.company_id,
        name: b.name.clone(),
        version: b.version.clone(),
        version_major: ma as i64,
        version_minor: mi as i64,
        version_patch: pa as i64,
        template_type: b.template_type.as_str().into(),
        description: b.description.clone(),
        process_steps: b.process_steps.clone(),
        variables: serde_json::to_value(&b.variables)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        settings: b.settings.clone(),
        graph_spec: serde_json::to_value(&b.graph_spec)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        is_public: b.is_public,
        actions: (!b.actions.is_empty())
            .then(|| serde_json::to_value(&b.actions))
            .transpose()
            .map_err(|e| AppError::Internal(e.to_string()))?,
        usage_count: 0,
        last_used_at: None,
        created_by: auth.user_id,
        created_at: now,
        updated_at: now,
    })
}

/// The result of saving a version: the template and semver warnings.
pub struct Saved {
    pub template: template::Model,
    pub warnings: Vec<String>,
    /// False when an identical version already existed and nothing was written.
    pub created: bool,
}

/// Warns when a version's diff from the previous version is breaking but MAJOR did not move.
async fn semver_warnings(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    b: &TemplateBody,
) -> AppResult<Vec<String>> {
    let Some((major, _, _)) = parse_semver(&b.version) else {
        return Ok(vec![]);
    };
    let previous = versions(db, auth, &b.name)
        .await?
        .into_iter()
        .rev()
        .find(|t| semver::precedence(&t.version, &b.version).is_lt());
    let Some(prev) = previous else {
        return Ok(vec![]);
    };
    let d = diff::diff(&body(&prev)?, b);
    if d.breaking && prev.version_major == major as i64 {
        Ok(vec![format!(
            "breaking change from {} without a MAJOR version bump ({}); consider {}.0.0",
            prev.version,
            d.breaking_reasons.join("; "),
            major + 1
        )])
    } else {
        Ok(vec![])
    }
}

/// A body as compared for "the same version again": canonical, without the declared actions,
/// which saving derives from the catalog (a template saved before declarations existed, and
/// its re-imported blueprint, are the same template).
fn comparable(b: &TemplateBody) -> serde_json::Value {
    let mut v = serde_json::to_value(b).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.remove("actions");
    }
    blueprint::canonical(&v)
}

/// Saves a new version. The same name and version with a different body is a CONFLICT unless
/// `overwrite`; with an identical body it is a no-op returning the existing template.
pub async fn save(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    b: TemplateBody,
    overwrite: bool,
    now: DateTime<Utc>,
) -> AppResult<Saved> {
    validation::validate(&b).map_err(bad)?;
    let mut b = b;
    let undeclared = actions::declare(db, auth, &mut b).await?;
    let mut saved = save_declared(db, auth, b, overwrite, now).await?;
    saved.warnings.extend(undeclared);
    Ok(saved)
}

/// `save` once the body's actions are declared.
async fn save_declared(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    b: TemplateBody,
    overwrite: bool,
    now: DateTime<Utc>,
) -> AppResult<Saved> {
    let txn = crate::db::begin_write(db).await?;
    let existing = tenancy::scoped::<template::Entity>(auth)
        .filter(template::Column::Name.eq(b.name.as_str()))
        .filter(template::Column::Version.eq(b.version.as_str()))
        .one(&txn)
        .await?;
    if let Some(e) = existing {
        let same = comparable(&body(&e)?) == comparable(&b);
        if same {
            return Ok(Saved {
                template: e,
                warnings: vec![],
                created: false,
            });
        }
        if !overwrite {
            return Err(AppError::conflict(format!(
                "template {:?} version {} already exists with a different body; publish a new version or pass overwrite: true",
                b.name, b.version
            )));
        }
        let mut m = to_model(auth, &b, e.id, now)?;
        m.usage_count = e.usage_count;
        m.last_used_at = e.last_used_at;
        m.created_at = e.created_at;
        m.created_by = e.created_by;
        let am: template::ActiveModel = m.into();
        let am = am.reset_all();
        let saved = am.update(&txn).await?;
        txn.commit().await?;
        return Ok(Saved {
            template: saved,
            warnings: vec![],
            created: true,
        });
    }
    if let Some(latest) = versions(&txn, auth, &b.name).await?.last()
        && semver::at_or_below(&b.version, &latest.version)
    {
        return Err(AppError::conflict(format!(
            "template {:?} version {} is not above the latest version, {}: a new version must \
             come after it in semver order (pre-releases come before their release; build \
             metadata does not count)",
            b.name, b.version, latest.version
        )));
    }
    let warnings = semver_warnings(&txn, auth, &b).await?;
    let m = to_model(auth, &b, Uuid::now_v7(), now)?;
    let am: template::ActiveModel = m.clone().into();
    template::Entity::insert(am)
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(Saved {
        template: m,
        warnings,
        created: true,
    })
}

pub async fn delete(db: &impl ConnectionTrait, auth: &AuthContext, id: Uuid) -> AppResult<()> {
    let t = get_owned(db, auth, id).await?;
    template::Entity::delete_by_id(t.id).exec(db).await?;
    Ok(())
}

pub async fn diff(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    from: Uuid,
    to: Uuid,
) -> AppResult<TemplateDiff> {
    let a = body(&get(db, auth, from).await?)?;
    let b = body(&get(db, auth, to).await?)?;
    Ok(diff::diff(&a, &b))
}

fn workflow_type(t: TemplateType) -> WorkflowType {
    use TemplateType as T;
    match t {
        T::Approval => WorkflowType::Approval,
        T::Notification => WorkflowType::Notification,
        T::Escalation => WorkflowType::Escalation,
        T::Onboarding | T::Offboarding | T::Custom => WorkflowType::Custom,
    }
}

/// Creates a DRAFT workflow from a template, with its variables substituted, and the declared
/// actions the company's catalog lacks; the steps whose action is still missing are warnings.
pub async fn instantiate(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    template_id: Uuid,
    name: &str,
    variables: &Value,
    now: DateTime<Utc>,
) -> AppResult<(workflow::Model, actions::Provisioned)> {
    let t = get(db, auth, template_id).await?;
    let b = body(&t)?;
    let vars = variables::resolve_variables(&b.variables, variables).map_err(bad)?;
    let steps = crate::placeholders::substitute(&b.process_steps, &|n| vars.get(n).cloned());
    let txn = crate::db::begin_write(db).await?;
    let provisioned = actions::provision(&txn, auth, &steps, &b.actions, now).await?;
    let wf = workflows::create(
        &txn,
        auth,
        WorkflowFields {
            name: Some(name.to_string()),
            description: Some(if b.description.is_empty() {
                format!("From template {} {}", b.name, b.version)
            } else {
                b.description.clone()
            }),
            workflow_type: Some(workflow_type(b.template_type)),
            status: Some(WorkflowStatus::Draft),
            steps: Some(steps),
            input_schema: None,
            owner_id: None,
        },
        now,
    )
    .await?;
    let mut am: template::ActiveModel = t.clone().into();
    am.usage_count = Set(t.usage_count + 1);
    am.last_used_at = Set(Some(now));
    am.updated_at = Set(now);
    am.update(&txn).await?;
    txn.commit().await?;
    Ok((wf, provisioned))
}

/// Imports a blueprint document.
pub async fn import_blueprint(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    doc: &Value,
    overwrite: bool,
    now: DateTime<Utc>,
) -> AppResult<Saved> {
    let (b, mut converted) = blueprint::read_any_blueprint(doc).map_err(bad)?;
    let mut saved = save(db, auth, b, overwrite, now).await?;
    converted.append(&mut saved.warnings);
    saved.warnings = converted;
    Ok(saved)
}

/// The blueprint document of a stored template.
pub async fn export(db: &impl ConnectionTrait, auth: &AuthContext, id: Uuid) -> AppResult<String> {
    Ok(blueprint::export(&body(&get(db, auth, id).await?)?))
}

/// A template with the given name and version made from BPMN XML.
pub async fn import_bpmn(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    xml: &str,
    name: &str,
    version: &str,
    overwrite: bool,
    now: DateTime<Utc>,
) -> AppResult<(Saved, Vec<String>)> {
    let imported = super::bpmn::import(xml, name, version).map_err(AppError::BadInput)?;
    let saved = save(db, auth, imported.body, overwrite, now).await?;
    Ok((saved, imported.warnings))
}

pub fn json_body(m: &template::Model) -> AppResult<Value> {
    Ok(json!(body(m)?))
}

fn template_type(t: &str) -> TemplateType {
    match WorkflowType::parse(t) {
        Some(WorkflowType::Approval) => TemplateType::Approval,
        Some(WorkflowType::Notification) => TemplateType::Notification,
        Some(WorkflowType::Escalation) => TemplateType::Escalation,
        _ => TemplateType::Custom,
    }
}

/// A workflow of the caller's company as a template body: its steps as they are (a
/// discovered workflow keeps its choices' probabilities, mined conditions and branch models,
/// its parallel lanes and its bounded loops), drawn as a graph laid out from them.
pub async fn workflow_body(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    workflow_id: Uuid,
    name: &str,
    version: &str,
) -> AppResult<TemplateBody> {
    let wf = tenancy::get::<workflow::Entity>(db, auth, workflow_id).await?;
    body_of_workflow(wf, name, version)
}

/// A workflow as a template body (see `workflow_body`).
fn body_of_workflow(wf: workflow::Model, name: &str, version: &str) -> AppResult<TemplateBody> {
    let graph_spec = super::steps_graph::graph_from_steps(&wf.steps)
        .map_err(|e| AppError::Internal(format!("stored steps of workflow {}: {e}", wf.id)))?;
    Ok(TemplateBody {
        name: name.to_string(),
        version: version.to_string(),
        template_type: template_type(&wf.workflow_type),
        description: wf.description,
        process_steps: wf.steps,
        variables: vec![],
        settings: json!({}),
        graph_spec,
        is_public: false,
        actions: vec![],
    })
}

/// Saves a workflow of the caller's company as a template version (its actions declared
/// from the catalog).
pub async fn from_workflow(
    db: &(impl ConnectionTrait + TransactionTrait),
    auth: &AuthContext,
    workflow_id: Uuid,
    name: &str,
    version: &str,
    is_public: bool,
    now: DateTime<Utc>,
) -> AppResult<Saved> {
    let mut b = workflow_body(db, auth, workflow_id, name, version).await?;
    b.is_public = is_public;
    save(db, auth, b, false, now).await
}

/// A workflow of the caller's company as BPMN 2.0 XML with a diagram (`bpmn`), or as a
/// blueprint document; named as the workflow, at version N.0.0 for its version N.
pub async fn export_workflow(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    workflow_id: Uuid,
    bpmn: bool,
) -> AppResult<String> {
    let wf = tenancy::get::<workflow::Entity>(db, auth, workflow_id).await?;
    let version = format!("{}.0.0", wf.version.max(0));
    let name = wf.name.clone();
    let mut b = body_of_workflow(wf, &name, &version)?;
    // The export names each catalog action; the declarations ride along with the steps.
    actions::declare(db, auth, &mut b).await?;
    Ok(if bpmn {
        super::bpmn::export(&b)
    } else {
        blueprint::export(&b)
    })
}
