//! Simulation's part of the schema.
use super::engine::{ApprovalRequirement, Exploration, Issue, PathStep, SimulationStatus};
use super::forecast::{self, Forecast, Replay};
use super::service::{self, SimulateArgs};
use crate::auth::CtxAuth;
use crate::entity::simulation;
use crate::error::AppError;
use crate::graphql_base::context::CtxExt;
use crate::graphql_base::loaders;
use crate::graphql_base::pagination::{Page, paginate};
use crate::graphql_base::types::User;
use crate::ids::parse_id;
use crate::model::{ApprovalDecision, stored};
use crate::tenancy;
use crate::workflows::objects::Workflow;
use async_graphql::{ComplexObject, Context, ID, InputObject, Json, Object, Result, SimpleObject};
use sea_orm::{ColumnTrait, QueryFilter};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A stored dry run.
pub type Simulation = simulation::Model;

fn decode<T: DeserializeOwned>(v: &Value) -> Result<T> {
    Ok(serde_json::from_value(v.clone())
        .map_err(|e| AppError::Internal(format!("stored simulation: {e}")))?)
}

#[ComplexObject]
impl Simulation {
    async fn workflow(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<Workflow>>> {
        loaders::one(&ctx.loaders()?.workflows, self.workflow_id).await
    }
    async fn status(&self) -> Result<SimulationStatus> {
        Ok(stored(SimulationStatus::parse, &self.status)?)
    }
    /// The SLAs that would apply to an execution with this input (active SLAs of the
    /// workflow whose `appliesWhen` the input meets); the SLA warnings are against these.
    async fn applicable_slas(&self, ctx: &Context<'_>) -> Result<Vec<crate::sla::graphql::Sla>> {
        let st = ctx.state()?;
        let all =
            crate::sla::service::active_for_workflow(&st.db, self.company_id, self.workflow_id)
                .await?;
        Ok(all
            .into_iter()
            .filter(|s| crate::sla::service::applies(s, &self.input_data))
            .collect())
    }
    /// Every step in the order it would run for this input.
    async fn execution_path(&self) -> Result<Vec<PathStep>> {
        decode(&self.execution_path)
    }
    /// The approvers this input requires, in order.
    async fn approval_chain(&self) -> Result<Vec<ApprovalRequirement>> {
        decode(&self.approval_chain)
    }
    /// Every distinct path across the whole input space.
    async fn branch_explorations(&self) -> Result<Exploration> {
        decode(&self.branch_explorations)
    }
    async fn validation_errors(&self) -> Result<Vec<Issue>> {
        decode(&self.validation_errors)
    }
    /// The Monte Carlo forecast: made when asked for (`forecast` in the input) or when the
    /// workflow's choices carry observed probabilities (a workflow discovered from a log).
    /// When it drew any choice, `predictedDurationMs` and `predictedDurationP95Ms` are its.
    async fn forecast(&self) -> Result<Option<Forecast>> {
        self.forecast.as_ref().map(decode).transpose()
    }
    async fn warnings(&self) -> Result<Vec<Issue>> {
        decode(&self.warnings)
    }
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<std::sync::Arc<User>>> {
        crate::graphql_base::types::user_by_id(ctx, self.created_by).await
    }
}

#[derive(Default)]
pub struct SimulationQuery;

#[Object]
impl SimulationQuery {
    /// The simulations of one workflow, oldest first.
    async fn simulations(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Simulation>> {
        let auth = ctx.auth()?;
        let wid = parse_id(&workflow_id, "workflow")?;
        let db = &ctx.state()?.db;
        tenancy::get::<crate::entity::workflow::Entity>(db, auth, wid).await?;
        let q = tenancy::scoped::<simulation::Entity>(auth)
            .filter(simulation::Column::WorkflowId.eq(wid));
        Ok(paginate(db, q, first, after).await?)
    }

    /// Every distinct path through the workflow's current definition across its whole input
    /// space, with the inputs that take each one and a witness: the exploration a
    /// simulation makes, without running one for an input or storing anything.
    async fn workflow_paths(&self, ctx: &Context<'_>, workflow_id: ID) -> Result<Exploration> {
        let auth = ctx.auth()?;
        let id = parse_id(&workflow_id, "workflow")?;
        Ok(service::paths(ctx.state()?, auth, id).await?)
    }

    /// Replays the workflow's completed executions through its current definition, by
    /// Monte Carlo (`runsPerCase` runs of each case's input, seeded): the predicted against
    /// the actual case durations. This is how far to trust `simulateWorkflow`'s predictions.
    /// The model draws step durations from the same history it is compared with.
    async fn workflow_replay(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        #[graphql(default = 32)] runs_per_case: i32,
        #[graphql(default = 1)] seed: i64,
        #[graphql(default = 20000)] max_cases: i32,
    ) -> Result<Replay> {
        let auth = ctx.auth()?;
        let wid = parse_id(&workflow_id, "workflow")?;
        let (runs, seed) = ForecastInput {
            runs: Some(runs_per_case),
            seed: Some(seed),
        }
        .checked()?;
        if !(1..=service::REPLAY_MAX_CASES as i64).contains(&(max_cases as i64)) {
            return Err(AppError::bad(format!(
                "maxCases must be between 1 and {}, not {max_cases}",
                service::REPLAY_MAX_CASES
            ))
            .into());
        }
        let state = ctx.state()?;
        Ok(service::replay(state, auth, wid, runs, seed, max_cases as u64).await?)
    }

    async fn simulation(&self, ctx: &Context<'_>, id: ID) -> Result<Simulation> {
        let auth = ctx.auth()?;
        let id = parse_id(&id, "simulation")?;
        Ok(tenancy::get::<simulation::Entity>(&ctx.state()?.db, auth, id).await?)
    }
}

#[derive(InputObject)]
pub struct StepDecisionInput {
    pub step: String,
    pub decision: ApprovalDecision,
}

#[derive(InputObject)]
pub struct SimulateWorkflowInput {
    pub workflow_id: ID,
    /// The input document to simulate (a JSON object).
    pub input_data: Json<Value>,
    /// Decisions to assume for approval steps; unlisted approvals are APPROVED.
    #[graphql(default)]
    pub approval_decisions: Vec<StepDecisionInput>,
    /// Names of steps to simulate as failing.
    #[graphql(default)]
    pub fail_steps: Vec<String>,
    /// A version of the workflow's definition (see `Workflow.versions`); the current one
    /// when left out.
    pub version: Option<i32>,
    /// Ask for a Monte Carlo forecast (runs and seed).
    pub forecast: Option<ForecastInput>,
}

#[derive(InputObject)]
pub struct ForecastInput {
    /// How many runs (1 to 100,000; default 1,000).
    pub runs: Option<i32>,
    /// The random seed (0 or more; default 1): the same seed gives the same forecast.
    pub seed: Option<i64>,
}

impl ForecastInput {
    /// Checked runs and seed.
    pub fn checked(&self) -> Result<(u32, u64), AppError> {
        let runs = self.runs.unwrap_or(forecast::DEFAULT_RUNS as i32);
        if !(1..=forecast::MAX_RUNS as i32).contains(&runs) {
            return Err(AppError::bad(format!(
                "forecast.runs must be between 1 and {}, not {runs}",
                forecast::MAX_RUNS
            )));
        }
        let seed = self.seed.unwrap_or(1);
        let seed = u64::try_from(seed)
            .map_err(|_| AppError::bad(format!("forecast.seed must be 0 or more, not {seed}")))?;
        Ok((runs as u32, seed))
    }
}

#[derive(SimpleObject)]
pub struct SimulateWorkflowPayload {
    pub simulation: Simulation,
}

#[derive(Default)]
pub struct SimulationMutation;

#[Object]
impl SimulationMutation {
    /// Runs a dry run: nothing is written but the Simulation itself.
    async fn simulate_workflow(
        &self,
        ctx: &Context<'_>,
        input: SimulateWorkflowInput,
    ) -> Result<SimulateWorkflowPayload> {
        let auth = ctx.writer()?;
        let workflow_id = parse_id(&input.workflow_id, "workflow")?;
        let decisions: HashMap<String, ApprovalDecision> = input
            .approval_decisions
            .into_iter()
            .map(|d| (d.step, d.decision))
            .collect();
        let fail_steps: HashSet<String> = input.fail_steps.into_iter().collect();
        let row = service::simulate(
            ctx.state()?,
            auth,
            SimulateArgs {
                workflow_id,
                version: input.version,
                forecast: input
                    .forecast
                    .as_ref()
                    .map(ForecastInput::checked)
                    .transpose()?,
                input_data: input.input_data.0,
                decisions,
                fail_steps,
            },
        )
        .await?;
        Ok(SimulateWorkflowPayload { simulation: row })
    }
}
