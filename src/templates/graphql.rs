//! Templates' part of the schema.
use super::body::{ActionDeclaration, GraphSpec, TemplateBody, TemplateType, Variable};
use super::diff::TemplateDiff;
use super::service::{self, Saved};
use crate::auth::CtxAuth;
use crate::entity::template;
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::pagination::{Page, paginate};
use crate::graphql_base::types::DeletePayload;
use crate::ids::parse_id;
use crate::model::stored;
use crate::tenancy;
use crate::workflows::objects::Workflow;
use async_graphql::{ComplexObject, Context, ID, InputObject, Json, Object, Result, SimpleObject};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

pub type ProcessTemplate = template::Model;

#[ComplexObject]
impl ProcessTemplate {
    async fn template_type(&self) -> Result<TemplateType> {
        Ok(stored(TemplateType::parse, &self.template_type)?)
    }
    async fn variables(&self) -> Result<Vec<Variable>> {
        Ok(serde_json::from_value(self.variables.clone())
            .map_err(|e| AppError::Internal(e.to_string()))?)
    }
    /// The catalog actions the steps need, declared with the template.
    async fn actions(&self) -> Result<Vec<ActionDeclaration>> {
        Ok(service::body(self)?.actions)
    }
    async fn graph_spec(&self) -> Result<GraphSpec> {
        Ok(serde_json::from_value(self.graph_spec.clone())
            .map_err(|e| AppError::Internal(e.to_string()))?)
    }
    /// Whether the caller's company owns this template (false for another company's public
    /// one, which is read-only).
    async fn owned(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.auth()?.company_id == self.company_id)
    }
}

/// Which templates a list holds.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TemplateScope {
    /// The company's own templates, public or not.
    #[default]
    Own,
    /// Every company's public templates (the marketplace), the company's own included.
    Marketplace,
    /// Both: everything the company may read.
    All,
}

#[derive(InputObject, Default)]
pub struct TemplateFilterInput {
    pub name: Option<String>,
    pub template_type: Option<TemplateType>,
    /// OWN by default.
    #[graphql(default)]
    pub scope: TemplateScope,
}

#[derive(Default)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    async fn process_templates(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TemplateFilterInput>,
    ) -> Result<Page<ProcessTemplate>> {
        let auth = ctx.auth()?;
        let f = filter.unwrap_or_default();
        let mut q = match f.scope {
            TemplateScope::Own => tenancy::scoped::<template::Entity>(auth),
            TemplateScope::Marketplace => {
                template::Entity::find().filter(template::Column::IsPublic.eq(true))
            }
            TemplateScope::All => service::readable(auth),
        };
        if let Some(n) = f.name {
            q = q.filter(template::Column::Name.eq(n));
        }
        if let Some(t) = f.template_type {
            q = q.filter(template::Column::TemplateType.eq(t.as_str()));
        }
        let db = &ctx.state()?.db;
        Ok(paginate(db, q, first, after).await?)
    }

    /// A template by name: the given version, or the latest.
    async fn process_template(
        &self,
        ctx: &Context<'_>,
        name: String,
        version: Option<String>,
    ) -> Result<ProcessTemplate> {
        let auth = ctx.auth()?;
        Ok(service::by_name(&ctx.state()?.db, auth, &name, version.as_deref()).await?)
    }

    async fn process_template_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<ProcessTemplate> {
        let auth = ctx.auth()?;
        Ok(service::get(&ctx.state()?.db, auth, parse_id(&id, "template")?).await?)
    }

    /// Every version of a template, in semver order.
    async fn template_versions(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Vec<ProcessTemplate>> {
        let auth = ctx.auth()?;
        Ok(service::versions(&ctx.state()?.db, auth, &name)
            .await?
            .into_iter()
            .collect())
    }

    /// The blueprint document (JSON) of a template: format, format version and every field,
    /// keys sorted.
    async fn export_process_template(&self, ctx: &Context<'_>, id: ID) -> Result<Json<Value>> {
        let auth = ctx.auth()?;
        let text = service::export(&ctx.state()?.db, auth, parse_id(&id, "template")?).await?;
        Ok(Json(
            serde_json::from_str(&text).map_err(|e| AppError::Internal(e.to_string()))?,
        ))
    }

    /// A workflow as BPMN 2.0 XML with a diagram laid out left to right: a task per step (by
    /// its action's kind), exclusive gateways for its choices (conditions, probabilities and
    /// the default flow), parallel gateways round its parallel groups, a gateway closing each
    /// bounded loop. The steps ride along, so importing it back gives the same workflow.
    async fn export_workflow_bpmn(&self, ctx: &Context<'_>, id: ID) -> Result<String> {
        let auth = ctx.auth()?;
        let id = parse_id(&id, "workflow")?;
        Ok(service::export_workflow(&ctx.state()?.db, auth, id, true).await?)
    }

    /// The template as BPMN 2.0 XML with a diagram: its graph at its coordinates when the
    /// graph shows every step, else the graph its steps make, laid out left to right.
    async fn export_process_template_bpmn(&self, ctx: &Context<'_>, id: ID) -> Result<String> {
        let auth = ctx.auth()?;
        let t = service::get(&ctx.state()?.db, auth, parse_id(&id, "template")?).await?;
        Ok(super::bpmn::export(&service::body(&t)?))
    }

    /// What changed between two templates, and whether it is breaking.
    async fn template_diff(
        &self,
        ctx: &Context<'_>,
        from_id: ID,
        to_id: ID,
    ) -> Result<TemplateDiff> {
        let auth = ctx.auth()?;
        let db = &ctx.state()?.db;
        Ok(service::diff(
            db,
            auth,
            parse_id(&from_id, "template")?,
            parse_id(&to_id, "template")?,
        )
        .await?)
    }
}

#[derive(InputObject)]
pub struct CreateProcessTemplateInput {
    pub name: String,
    pub version: String,
    pub template_type: TemplateType,
    #[graphql(default)]
    pub description: String,
    pub process_steps: Json<Value>,
    #[graphql(default)]
    pub variables: Json<Value>,
    pub settings: Option<Json<Value>>,
    pub graph_spec: Option<Json<Value>>,
    #[graphql(default)]
    pub is_public: bool,
    /// The catalog actions the steps need (those in your catalog are declared for you).
    #[graphql(default)]
    pub actions: Vec<ActionDeclaration>,
}

#[derive(InputObject)]
pub struct ImportBlueprintInput {
    pub blueprint: Json<Value>,
    #[graphql(default)]
    pub overwrite: bool,
}

#[derive(InputObject)]
pub struct ImportBpmnInput {
    pub xml: String,
    pub name: String,
    pub version: String,
    #[graphql(default)]
    pub overwrite: bool,
}

#[derive(InputObject)]
pub struct CreateTemplateFromWorkflowInput {
    pub workflow_id: ID,
    pub name: String,
    pub version: String,
    #[graphql(default)]
    pub is_public: bool,
}

#[derive(InputObject)]
pub struct CreateWorkflowFromTemplateInput {
    pub template_id: ID,
    pub name: String,
    #[graphql(default_with = "Json(serde_json::json!({}))")]
    pub variables: Json<Value>,
}

#[derive(InputObject)]
pub struct DeleteProcessTemplateInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct ProcessTemplatePayload {
    pub template: ProcessTemplate,
    /// Semver and import notes, such as a breaking change without a MAJOR bump, or BPMN
    /// elements that could not be represented.
    pub warnings: Vec<String>,
    /// False when an identical version already existed and nothing changed.
    pub created: bool,
}

#[derive(SimpleObject)]
pub struct CreateWorkflowFromTemplatePayload {
    pub workflow: Workflow,
    /// The action types created in the company's catalog from the template's declarations.
    pub actions_created: Vec<String>,
    /// Steps whose action is neither in the catalog nor declared by the template, by step.
    pub warnings: Vec<String>,
}

fn payload(s: Saved, mut extra: Vec<String>) -> ProcessTemplatePayload {
    let mut warnings = s.warnings;
    warnings.append(&mut extra);
    ProcessTemplatePayload {
        template: s.template,
        warnings,
        created: s.created,
    }
}

#[derive(Default)]
pub struct TemplateMutation;

#[Object]
impl TemplateMutation {
    /// Publishes a template version. The same name and version is a CONFLICT.
    async fn create_process_template(
        &self,
        ctx: &Context<'_>,
        input: CreateProcessTemplateInput,
    ) -> Result<ProcessTemplatePayload> {
        let auth = ctx.writer()?;
        let variables = if input.variables.0.is_null() {
            Value::Array(vec![])
        } else {
            input.variables.0
        };
        let body = TemplateBody {
            name: input.name,
            version: input.version,
            template_type: input.template_type,
            description: input.description,
            process_steps: input.process_steps.0,
            variables: serde_json::from_value(variables)
                .map_err(|e| AppError::bad(format!("variables: {e}")))?,
            settings: input
                .settings
                .map(|j| j.0)
                .unwrap_or_else(|| serde_json::json!({})),
            graph_spec: match input.graph_spec {
                Some(g) => serde_json::from_value(g.0)
                    .map_err(|e| AppError::bad(format!("graphSpec: {e}")))?,
                None => GraphSpec::default(),
            },
            is_public: input.is_public,
            actions: input.actions,
        };
        let db = &ctx.state()?.db;
        let exists = tenancy::scoped::<template::Entity>(auth)
            .filter(template::Column::Name.eq(body.name.as_str()))
            .filter(template::Column::Version.eq(body.version.as_str()))
            .one(db)
            .await
            .map_err(AppError::from)?;
        if exists.is_some() {
            return Err(AppError::conflict(format!(
                "template {:?} version {} already exists",
                body.name, body.version
            ))
            .into());
        }
        let writer = &ctx.state()?.writer;
        Ok(payload(
            service::save(writer, auth, body, false, ctx.state()?.clock.now()).await?,
            vec![],
        ))
    }

    /// Imports a blueprint document: validated; an existing name and version with a different
    /// body is a CONFLICT unless `overwrite`; an identical one is a no-op.
    async fn import_blueprint(
        &self,
        ctx: &Context<'_>,
        input: ImportBlueprintInput,
    ) -> Result<ProcessTemplatePayload> {
        let auth = ctx.writer()?;
        Ok(payload(
            service::import_blueprint(
                &ctx.state()?.writer,
                auth,
                &input.blueprint.0,
                input.overwrite,
                ctx.state()?.clock.now(),
            )
            .await?,
            vec![],
        ))
    }

    /// Imports BPMN 2.0 XML as a template version; what cannot be represented is listed in
    /// the warnings.
    async fn import_bpmn(
        &self,
        ctx: &Context<'_>,
        input: ImportBpmnInput,
    ) -> Result<ProcessTemplatePayload> {
        let auth = ctx.writer()?;
        let (saved, warnings) = service::import_bpmn(
            &ctx.state()?.db,
            auth,
            &input.xml,
            &input.name,
            &input.version,
            input.overwrite,
            ctx.state()?.clock.now(),
        )
        .await?;
        Ok(payload(saved, warnings))
    }

    /// Saves a workflow as a template version: its steps as they are (a discovered workflow
    /// keeps its choices' probabilities and mined conditions, its lanes and loops), a graph
    /// drawn from them, and the catalog actions they use declared, so that another company
    /// can instantiate it. A version at or below the name's latest is a CONFLICT.
    async fn create_template_from_workflow(
        &self,
        ctx: &Context<'_>,
        input: CreateTemplateFromWorkflowInput,
    ) -> Result<ProcessTemplatePayload> {
        let auth = ctx.writer()?;
        let saved = service::from_workflow(
            &ctx.state()?.writer,
            auth,
            parse_id(&input.workflow_id, "workflow")?,
            &input.name,
            &input.version,
            input.is_public,
            ctx.state()?.clock.now(),
        )
        .await?;
        Ok(payload(saved, vec![]))
    }

    /// Creates a DRAFT workflow from a template, filling in its variables.
    async fn create_workflow_from_template(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkflowFromTemplateInput,
    ) -> Result<CreateWorkflowFromTemplatePayload> {
        let auth = ctx.writer()?;
        let id = parse_id(&input.template_id, "template")?;
        let (wf, provisioned) = service::instantiate(
            &ctx.state()?.writer,
            auth,
            id,
            &input.name,
            &input.variables.0,
            ctx.state()?.clock.now(),
        )
        .await?;
        Ok(CreateWorkflowFromTemplatePayload {
            workflow: wf,
            actions_created: provisioned.created,
            warnings: provisioned.warnings,
        })
    }

    async fn delete_process_template(
        &self,
        ctx: &Context<'_>,
        input: DeleteProcessTemplateInput,
    ) -> Result<DeletePayload> {
        let auth = ctx.writer()?;
        service::delete(&ctx.state()?.db, auth, parse_id(&input.id, "template")?).await?;
        Ok(DeletePayload {
            deleted_id: input.id,
        })
    }
}
