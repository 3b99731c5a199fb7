//! The catalog actions a template needs: declared with the template from the owner's catalog
//! when it is saved, and created in the instantiating company's catalog when it lacks them.
//! What neither the catalog nor the declarations hold is named, with its step, in warnings.
use super::body::{ActionDeclaration, TemplateBody};
use crate::auth::AuthContext;
use crate::catalog::service::{self as catalog, ActionFields};
use crate::entity::action;
use crate::error::AppResult;
use crate::model::stored;
use crate::tenancy;
use crate::workflows::steps::GATEWAY;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Each step's action (gateways and `{{placeholder}}` actions left out), with the first step
/// that needs it: (action, "steps[i] (name)").
fn needed(steps: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, s) in steps.as_array().into_iter().flatten().enumerate() {
        let Some(a) = s.get("action").and_then(Value::as_str) else {
            continue;
        };
        if a == GATEWAY || a.contains("{{") {
            continue;
        }
        let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
        out.entry(a.to_string())
            .or_insert_with(|| format!("steps[{i}] ({name})"));
    }
    out
}

/// The company's catalog entries for these action types.
async fn catalog_of(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    types: impl IntoIterator<Item = &String>,
) -> AppResult<HashMap<String, action::Model>> {
    let types: Vec<String> = types.into_iter().cloned().collect();
    Ok(tenancy::scoped::<action::Entity>(auth)
        .filter(action::Column::ActionType.is_in(types))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.action_type.clone(), a))
        .collect())
}

fn declaration(a: &action::Model) -> AppResult<ActionDeclaration> {
    Ok(ActionDeclaration {
        action_type: a.action_type.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        latency_class: stored(crate::model::LatencyClass::parse, &a.latency_class)?,
        is_idempotent: a.is_idempotent,
    })
}

/// Before a template is saved: each step action the template does not declare is declared
/// from the owner's catalog; one in neither is a warning naming its step.
pub async fn declare(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    b: &mut TemplateBody,
) -> AppResult<Vec<String>> {
    let missing: BTreeMap<String, String> = needed(&b.process_steps)
        .into_iter()
        .filter(|(a, _)| !b.actions.iter().any(|d| &d.action_type == a))
        .collect();
    let found = catalog_of(db, auth, missing.keys()).await?;
    let mut warnings = Vec::new();
    for (a, step) in missing {
        match found.get(&a) {
            Some(m) => b.actions.push(declaration(m)?),
            None => warnings.push(format!(
                "{step}: action {a:?} is neither in your catalog nor declared in the template's \
                 actions; a workflow made from this template fails simulation \
                 (ACTION_NOT_IN_CATALOG) until the action exists"
            )),
        }
    }
    Ok(warnings)
}

/// What instantiating did to the catalog: the action types it created, and the steps whose
/// action is still missing.
#[derive(Default)]
pub struct Provisioned {
    pub created: Vec<String>,
    pub warnings: Vec<String>,
}

/// Creates, in the caller's catalog, the declared actions that `steps` need and the catalog
/// lacks; the rest that it lacks are warnings naming their step.
pub async fn provision(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    steps: &Value,
    declared: &[ActionDeclaration],
    now: DateTime<Utc>,
) -> AppResult<Provisioned> {
    let need = needed(steps);
    let have = catalog_of(db, auth, need.keys()).await?;
    let mut out = Provisioned::default();
    for (a, step) in need.into_iter().filter(|(a, _)| !have.contains_key(a)) {
        let Some(d) = declared.iter().find(|d| d.action_type == a) else {
            out.warnings.push(format!(
                "{step}: action {a:?} is not in your catalog and the template does not declare \
                 it; create it (createAction) before simulating or running the workflow"
            ));
            continue;
        };
        let fields = ActionFields {
            name: Some(d.name.clone()),
            action_type: Some(d.action_type.clone()),
            description: Some(d.description.clone()),
            is_idempotent: Some(d.is_idempotent),
            latency_class: Some(d.latency_class),
            ..ActionFields::default()
        };
        catalog::create(db, auth, fields, now).await?;
        out.created.push(a);
    }
    Ok(out)
}
