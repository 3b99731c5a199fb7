//! What the engine reads and what it returns: requests, paths, explorations, issues.
use super::*;

/// What the catalog says about an action.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub latency_class: LatencyClass,
    pub avg_execution_time_ms: f64,
    pub execution_count: i64,
    pub is_idempotent: bool,
    pub side_effects: Vec<String>,
    pub input_schema: Option<Value>,
}

/// Past durations of one step.
#[derive(Clone, Debug)]
pub struct StepHistory {
    pub p50_ms: i64,
    pub p95_ms: i64,
    pub samples: usize,
    /// The durations themselves, sorted (a forecast draws from them).
    pub sorted_ms: Vec<i64>,
    /// Of the samples, how many ended their case: a rejection or a failure.
    pub ended: usize,
}

impl StepHistory {
    /// A step's history from its recorded durations (any order) and how many ended the case.
    pub fn of(mut durations: Vec<i64>, ended: usize) -> StepHistory {
        durations.sort_unstable();
        StepHistory {
            p50_ms: crate::stats::quantile(&durations, 0.5),
            p95_ms: crate::stats::quantile(&durations, 0.95),
            samples: durations.len(),
            ended,
            sorted_ms: durations,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SlaTarget {
    pub name: String,
    pub target_seconds: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most distinct paths reported.
    pub max_paths: usize,
    /// Most region splits performed while exploring.
    pub max_work: usize,
    /// Most regions kept per path.
    pub max_regions_per_path: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_paths: 64,
            max_work: 200_000,
            max_regions_per_path: 16,
        }
    }
}

/// Everything a simulation reads.
pub struct Request<'a> {
    pub steps: &'a Value,
    pub input: &'a Value,
    pub input_schema: Option<&'a Value>,
    pub catalog: &'a HashMap<String, CatalogEntry>,
    pub history: &'a HashMap<String, StepHistory>,
    pub slas: &'a [SlaTarget],
    pub decisions: &'a HashMap<String, ApprovalDecision>,
    pub fail_steps: &'a HashSet<String>,
    pub limits: Limits,
    /// Runs and seed of the Monte Carlo forecast. Without them, a forecast is made (with the
    /// defaults) only when some branch carries a probability.
    pub forecast: Option<(u32, u64)>,
}

str_enum!(
    /// How the simulated run ends.
    SimulationStatus {
        Succeeded => "succeeded",
        Failed => "failed",
        Rejected => "rejected",
        Invalid => "invalid",
    }
);

str_enum!(
    StepStatus { Run => "run", Skipped => "skipped", Failed => "failed" }
);

str_enum!(
    /// Where a predicted duration comes from.
    DurationSource {
        History => "history",
        Catalog => "catalog",
        LatencyClass => "latency_class",
        Default => "default",
        Routing => "routing",
    }
);

/// A condition as evaluated for the given input.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ConditionResult {
    pub expression: Value,
    pub result: bool,
    /// Each field comparison with the actual operand it saw.
    pub comparisons: Vec<FieldComparison>,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct FieldComparison {
    pub field: String,
    pub operator: Value,
    /// The input's value at that field; null when missing.
    pub actual: Option<Value>,
    pub missing: bool,
    pub result: bool,
}

impl From<Comparison> for FieldComparison {
    fn from(c: Comparison) -> Self {
        FieldComparison {
            field: c.field,
            operator: c.operator,
            missing: c.actual.is_none(),
            actual: c.actual,
            result: c.result,
        }
    }
}

/// One step of the simulated run.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct PathStep {
    pub index: i32,
    pub name: String,
    pub action: String,
    pub status: StepStatus,
    pub condition: Option<ConditionResult>,
    pub predicted_duration_ms: i64,
    pub predicted_duration_p95_ms: Option<i64>,
    pub duration_source: DurationSource,
    pub approver: Option<String>,
    pub decision: Option<ApprovalDecision>,
    /// The branch taken after this step, by index, when one matched.
    pub branch_taken: Option<i32>,
}

/// An approver the input requires.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequirement {
    pub step: String,
    pub step_index: i32,
    pub approver: String,
    /// The condition that made this approval required; null when it always is.
    pub condition: Option<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// A stable code, such as ACTION_NOT_IN_CATALOG.
    pub code: String,
    pub message: String,
    pub step: Option<String>,
    /// A JSON pointer or path where one applies.
    pub path: Option<String>,
}

pub(super) fn issue(
    code: &str,
    message: String,
    step: Option<&str>,
    path: Option<String>,
) -> Issue {
    Issue {
        code: code.into(),
        message,
        step: step.map(str::to_string),
        path,
    }
}

/// One region of the input space, as per-field constraints.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct PathRegion {
    pub constraints: Vec<FieldConstraint>,
    pub description: String,
}

/// A distinct path through the workflow and the inputs that take it.
#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ExploredPath {
    /// The steps that run, in order.
    pub steps: Vec<String>,
    pub skipped_steps: Vec<String>,
    /// The inputs that select this path: the union of these regions.
    pub regions: Vec<PathRegion>,
    /// The regions as text, such as `10000 < amount <= 50000`.
    pub description: String,
    /// One input that takes this path.
    pub witness: Value,
    /// Whether the witness was re-run and took this path (false only around `$regex`).
    pub witness_verified: bool,
    pub approval_chain: Vec<String>,
    pub predicted_duration_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ConstantCondition {
    pub step: String,
    /// Null for the step's own `conditions`, else the branch index.
    pub branch: Option<i32>,
    pub always: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct BranchOverlap {
    pub step: String,
    pub branches: Vec<i32>,
    /// An input both branches match; the earlier branch wins for it.
    pub witness: Value,
}

#[derive(Clone, Debug, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct BranchGap {
    pub step: String,
    /// An input no branch matches (it falls through to the next step in order).
    pub witness: Value,
}

/// Every path across the input space, and what the exploration noticed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Exploration {
    pub paths: Vec<ExploredPath>,
    /// Whether the path cap or the work budget stopped the exploration early.
    pub truncated: bool,
    pub max_paths: i32,
    pub fields: Vec<String>,
    /// Steps no input reaches (empty when truncated, since it cannot be known).
    pub unreachable_steps: Vec<String>,
    pub constant_conditions: Vec<ConstantCondition>,
    pub overlapping_branches: Vec<BranchOverlap>,
    pub branch_gaps: Vec<BranchGap>,
}

/// The simulation's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: SimulationStatus,
    pub execution_path: Vec<PathStep>,
    pub approval_chain: Vec<ApprovalRequirement>,
    pub branch_explorations: Exploration,
    pub predicted_duration_ms: i64,
    pub predicted_duration_p95_ms: Option<i64>,
    pub validation_errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub forecast: Option<Forecast>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Estimate {
    pub(super) p50: i64,
    pub(super) p95: Option<i64>,
    pub(super) source: DurationSource,
}
