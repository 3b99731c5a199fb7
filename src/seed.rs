//! The demo company: an admin, a few catalog actions and the discount-approval workflow.
use crate::auth::{AuthContext, IssuedToken, issue_token};
use crate::catalog::service::{self as catalog, ActionFields};
use crate::error::AppResult;
use crate::model::{LatencyClass, Role, WorkflowStatus, WorkflowType};
use crate::tenancy;
use crate::workflows::service::{self as workflows, WorkflowFields};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use serde_json::json;

pub const DEMO_COMPANY: &str = "Demo Company";
pub const DEMO_ADMIN: &str = "admin@demo.local";
pub const DISCOUNT_WORKFLOW: &str = "Discount Approval";

/// The discount-approval steps: validate, then manager, director over 10,000 and CFO over
/// 50,000.
pub fn discount_steps() -> serde_json::Value {
    json!([
        {"name": "Validate", "action": "validation"},
        {"name": "Manager Approval", "action": "approval", "approver": "manager"},
        {"name": "Director Approval", "action": "approval", "approver": "director",
         "conditions": {"amount": {"$gt": 10000}}},
        {"name": "CFO Approval", "action": "approval", "approver": "cfo",
         "conditions": {"amount": {"$gt": 50000}}}
    ])
}

fn demo_actions() -> Vec<ActionFields> {
    let a = |name: &str, t: &str, desc: &str, idem: bool, lat, fx: &[&str], schema| ActionFields {
        name: Some(name.into()),
        action_type: Some(t.into()),
        description: Some(desc.into()),
        is_idempotent: Some(idem),
        latency_class: Some(lat),
        side_effects: Some(fx.iter().map(|s| s.to_string()).collect()),
        input_schema: Some(schema).into(),
        output_schema: Default::default(),
        is_active: Some(true),
    };
    vec![
        a(
            "Validate request",
            "validation",
            "Checks the request against business rules.",
            true,
            LatencyClass::Instant,
            &[],
            None,
        ),
        a(
            "Human approval",
            "approval",
            "Waits for an approver's decision.",
            true,
            LatencyClass::Slow,
            &["human_task"],
            None,
        ),
        a(
            "Send email",
            "send_email",
            "Sends an email through the company's mail relay.",
            false,
            LatencyClass::Fast,
            &["email"],
            Some(json!({"type": "object", "required": ["to", "subject"],
                      "properties": {"to": {"type": "string", "format": "email"},
                                     "subject": {"type": "string", "minLength": 1},
                                     "body": {"type": "string"}}})),
        ),
        a(
            "Update CRM record",
            "crm_update",
            "Writes fields on a CRM record.",
            false,
            LatencyClass::Medium,
            &["crm_write"],
            Some(json!({"type": "object", "required": ["record_id"],
                      "properties": {"record_id": {"type": "string"}, "fields": {"type": "object"}}})),
        ),
        a(
            "Call webhook",
            "http_request",
            "Calls an HTTP endpoint.",
            false,
            LatencyClass::Medium,
            &["external_call"],
            None,
        ),
    ]
}

/// Seeds the demo company if it has no workflows yet, and issues a fresh admin token. It runs
/// before the server (and its injected clock) exists, so it reads the system clock.
pub async fn seed_demo(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
) -> AppResult<IssuedToken> {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let issued = issue_token(db, DEMO_COMPANY, DEMO_ADMIN, Role::Admin, now).await?;
    let auth = demo_auth(&issued);
    let existing = tenancy::scoped::<crate::entity::workflow::Entity>(&auth)
        .one(db)
        .await?;
    if existing.is_some() {
        return Ok(issued);
    }
    for a in demo_actions() {
        catalog::create(db, &auth, a, now).await?;
    }
    workflows::create(
        db,
        &auth,
        WorkflowFields {
            name: Some(DISCOUNT_WORKFLOW.into()),
            description: Some("Discount requests need more approvers as the amount grows.".into()),
            workflow_type: Some(WorkflowType::Approval),
            status: Some(WorkflowStatus::Active),
            steps: Some(discount_steps()),
            input_schema: Some(Some(json!({
                "type": "object",
                "required": ["amount"],
                "properties": {"amount": {"type": "number", "minimum": 0},
                               "customer": {"type": "string"}}
            }))),
            owner_id: None,
        },
        now,
    )
    .await?;
    workflows::create(
        db,
        &auth,
        WorkflowFields {
            name: Some("New Customer Welcome".into()),
            description: Some("Welcome email and CRM update for new customers.".into()),
            workflow_type: Some(WorkflowType::Notification),
            status: Some(WorkflowStatus::Active),
            steps: Some(json!([
                {"name": "Send welcome email", "action": "send_email",
                 "input": {"to": "{{customer_email}}", "subject": "Welcome!"}},
                {"name": "Mark customer onboarded", "action": "crm_update"}
            ])),
            input_schema: None,
            owner_id: None,
        },
        now,
    )
    .await?;
    Ok(issued)
}

/// The demo SLA: warning at 30 s, critical at 45 s, so live breaches arrive within a minute.
pub async fn seed_demo_sla(state: &crate::AppState, auth: &AuthContext) -> AppResult<()> {
    let Some(wf) = tenancy::scoped::<crate::entity::workflow::Entity>(auth)
        .filter(crate::entity::workflow::Column::Name.eq(DISCOUNT_WORKFLOW))
        .one(&state.db)
        .await?
    else {
        return Ok(());
    };
    let existing =
        crate::sla::service::active_for_workflow(&state.db, auth.company_id, wf.id).await?;
    if existing.is_empty() {
        crate::sla::service::create(
            &state.db,
            auth,
            wf.id,
            crate::sla::service::SlaFields {
                name: Some("Discount decision within 45 s".into()),
                description: Some("Demo SLA: live breaches arrive within a minute.".into()),
                target_duration_seconds: Some(45),
                warning_threshold_seconds: Some(30),
                critical_threshold_seconds: Some(45),
                slo_window_hours: Some(24),
                slo_target_percentage: Some(85.0),
                alert_recipients: None,
                is_active: Some(true),
                ..Default::default()
            },
            state.clock.now(),
        )
        .await?;
    }
    Ok(())
}

/// How many past discount requests the demo history holds.
pub const DEMO_HISTORY: usize = 600;

/// A fixed pseudo-random number in 0..1000 for demo request `i` and `salt`, so the history
/// is the same on every start.
fn dice(i: usize, salt: u64) -> u64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % 1000
}

/// Three weeks of finished discount requests up to the last hour, so that suggestions,
/// simulation estimates and SLO reports have history to work on from the first start. The demo
/// runs in compressed time, on the scale of its 45 s SLA and of the live runs:
/// - validation takes 20 to 220 ms and fails one request in eight;
/// - the manager takes 5 to 15 s, and approves every request under 2,000 and 85 % of the rest;
/// - the director (over 10,000) takes 14 to 34 s and rarely rejects; the CFO (over 50,000)
///   takes 10 to 20 s and approves 70 %.
///
/// So about 86 % of the requests meet the SLA's 45 s target (its objective is 85 %): the large
/// discounts that wait on the director and the CFO are the ones that miss it, and PERFORMANCE
/// names the director as the bottleneck.
///
/// Idempotent by external id: a restart imports nothing new.
pub async fn seed_demo_history(
    state: &crate::AppState,
    auth: &AuthContext,
) -> AppResult<crate::executions::service::ImportReport> {
    let Some(wf) = tenancy::scoped::<crate::entity::workflow::Entity>(auth)
        .filter(crate::entity::workflow::Column::Name.eq(DISCOUNT_WORKFLOW))
        .one(&state.db)
        .await?
    else {
        return Ok(Default::default());
    };
    // One request every 50 minutes, the last starting 50 minutes ago.
    let first = state.clock.now() - chrono::Duration::minutes(50 * DEMO_HISTORY as i64);
    let items = (0..DEMO_HISTORY)
        .map(|i| demo_request(wf.id, i, first))
        .collect();
    crate::executions::service::import(state, auth, items).await
}

/// Past discount request `i`, started 50 minutes after the one before.
fn demo_request(
    workflow_id: uuid::Uuid,
    i: usize,
    first: chrono::DateTime<chrono::Utc>,
) -> crate::executions::service::ImportExecution {
    use crate::model::ExecutionStatus;
    // Four in ten are small (100 to 1,999), the rest 2,000 to 79,922.
    let amount: u64 = if dice(i, 1) < 400 {
        100 + dice(i, 2) * 19 / 10
    } else {
        2_000 + dice(i, 3) * 78
    };
    let start = first + chrono::Duration::minutes(i as i64 * 50);
    let mut steps = DemoSteps {
        at: start,
        steps: Vec::new(),
    };
    let invalid = dice(i, 5) < 125;
    steps.push("Validate", None, validate_ms(i), None, invalid);
    if !invalid {
        let manager = amount < 2_000 || dice(i, 6) < 850;
        steps.push(
            "Manager Approval",
            Some("manager"),
            (5_000 + dice(i, 7) * 10) as i64,
            Some(manager),
            false,
        );
        let director = amount <= 10_000 || dice(i, 8) < 970;
        if manager && amount > 10_000 {
            steps.push(
                "Director Approval",
                Some("director"),
                (14_000 + dice(i, 9) * 20) as i64,
                Some(director),
                false,
            );
        }
        if manager && director && amount > 50_000 {
            steps.push(
                "CFO Approval",
                Some("cfo"),
                (10_000 + dice(i, 10) * 10) as i64,
                Some(dice(i, 11) < 700),
                false,
            );
        }
    }
    let record = crate::executions::service::ExecutionRecord {
        external_id: format!("demo-history-{i}"),
        input_data: json!({"amount": amount, "customer": format!("Customer {}", i % 23 + 1)}),
        status: if invalid {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Completed
        },
        started_at: start,
        completed_at: Some(steps.at),
        error: invalid.then(|| "validation failed".to_string()),
        steps: steps.steps,
    };
    crate::executions::service::ImportExecution {
        workflow_id,
        record,
    }
}

/// How long validating demo request `i` takes: 20 to 220 ms (the action is INSTANT).
fn validate_ms(i: usize) -> i64 {
    20 + dice(i, 4) as i64 / 5
}

/// The steps of one demo request, one after the other.
struct DemoSteps {
    at: chrono::DateTime<chrono::Utc>,
    steps: Vec<crate::executions::service::StepRun>,
}

impl DemoSteps {
    fn push(
        &mut self,
        name: &str,
        approver: Option<&str>,
        ms: i64,
        decision: Option<bool>,
        failed: bool,
    ) {
        use crate::model::{ApprovalDecision, StepRunStatus};
        let begun = self.at;
        self.at += chrono::Duration::milliseconds(ms);
        self.steps.push(crate::executions::service::StepRun {
            step_name: name.into(),
            status: if failed {
                StepRunStatus::Failed
            } else {
                StepRunStatus::Completed
            },
            started_at: begun,
            completed_at: Some(self.at),
            start_inferred: false,
            approver: approver.map(str::to_string),
            decision: decision.map(|ok| {
                if ok {
                    ApprovalDecision::Approved
                } else {
                    ApprovalDecision::Rejected
                }
            }),
            error: failed.then(|| "customer record incomplete".to_string()),
        });
    }
}

/// The demo admin, as the caller for seeding and the feeder.
pub fn demo_auth(issued: &IssuedToken) -> AuthContext {
    AuthContext {
        company_id: issued.company_id,
        user_id: Some(issued.user_id),
        email: DEMO_ADMIN.into(),
        role: Role::Admin,
    }
}

/// How long a live demo run takes: small discounts (up to 10,000) 20 s; those the director
/// approves 35 s, over the 30 s warning; those the CFO approves too 60 s, past the 45 s target.
pub fn demo_run_seconds(amount: u64) -> i64 {
    match amount {
        0..=10_000 => 20,
        10_001..=50_000 => 35,
        _ => 60,
    }
}

/// Finishes live demo run `id` (started at `started`, for `amount`) now: records its steps as
/// the history has them, one after the other over its time, then completes it.
pub async fn finish_demo_run(
    state: &crate::AppState,
    auth: &AuthContext,
    id: uuid::Uuid,
    started: chrono::DateTime<chrono::Utc>,
    amount: u64,
) -> AppResult<()> {
    use crate::executions::service::{self as executions, Completion, StepRun};
    use crate::model::{ApprovalDecision, FinalStatus, StepRunStatus};
    let now = state.clock.now();
    let mut approvers = vec![("Manager Approval", "manager", 5)];
    if amount > 10_000 {
        approvers.push(("Director Approval", "director", 4));
    }
    if amount > 50_000 {
        approvers.push(("CFO Approval", "cfo", 2));
    }
    let weights: i64 = approvers.iter().map(|a| a.2).sum();
    let validated = started + chrono::Duration::milliseconds(100);
    let span = (now - validated).num_milliseconds().max(0);
    let step = |name: &str, from, to, approver: Option<&str>| StepRun {
        step_name: name.into(),
        status: StepRunStatus::Completed,
        started_at: from,
        completed_at: Some(to),
        approver: approver.map(str::to_string),
        decision: approver.map(|_| ApprovalDecision::Approved),
        error: None,
        start_inferred: false,
    };
    executions::record_step(state, auth, id, step("Validate", started, validated, None)).await?;
    let mut at = validated;
    for (i, (name, who, w)) in approvers.iter().enumerate() {
        let to = if i + 1 == approvers.len() {
            now
        } else {
            at + chrono::Duration::milliseconds(span * w / weights)
        };
        executions::record_step(state, auth, id, step(name, at, to, Some(who))).await?;
        at = to;
    }
    let done = Completion {
        status: FinalStatus::Completed,
        completed_at: None,
        error: None,
    };
    executions::complete(state, auth, id, done).await?;
    Ok(())
}

/// Keeps the demo alive: every 15 s starts a discount request, and finishes each when its
/// time is up (see [`demo_run_seconds`]), so a newcomer watching `slaBreachEvents` sees the
/// large ones breach, and the board's heat map shows where their time went.
pub async fn demo_feeder(state: std::sync::Arc<crate::AppState>, auth: AuthContext) {
    use crate::executions::service::{self as executions, Start};
    let Ok(Some(wf)) = tenancy::scoped::<crate::entity::workflow::Entity>(&auth)
        .filter(crate::entity::workflow::Column::Name.eq(DISCOUNT_WORKFLOW))
        .one(&state.db)
        .await
    else {
        return;
    };
    let (mut n, mut tick): (u64, u64) = (0, 0);
    let mut running: Vec<(uuid::Uuid, chrono::DateTime<chrono::Utc>, u64)> = Vec::new();
    // A tick every 5 s: a run finishes within 5 s of its time (a 20 s run never reaches the
    // 30 s warning), and every third tick starts a new one.
    loop {
        if tick.is_multiple_of(3) {
            // One in eight misses the target, as in the history; the first within a minute.
            let amounts = [4_000, 60_000, 12_500, 8_000, 27_000, 3_000, 9_500, 15_000];
            let amount = amounts[(n % 8) as usize];
            let start = Start {
                input_data: json!({"amount": amount, "customer": format!("Customer {}", n % 7 + 1)}),
                started_at: None,
                external_id: Some(format!("demo-{}-{n}", state.clock.now().timestamp())),
            };
            match executions::start(&state, &auth, wf.id, start).await {
                Ok(e) => running.push((e.id, e.started_at, amount)),
                Err(e) => tracing::warn!(error = %e, "demo: starting an execution failed"),
            }
            n += 1;
        }
        tick += 1;
        let now = state.clock.now();
        let mut keep = Vec::new();
        for (id, started, amount) in running {
            if (now - started).num_seconds() >= demo_run_seconds(amount) {
                if let Err(e) = finish_demo_run(&state, &auth, id, started, amount).await {
                    tracing::warn!(error = %e, "demo: finishing an execution failed");
                }
            } else {
                keep.push((id, started, amount));
            }
        }
        running = keep;
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}
