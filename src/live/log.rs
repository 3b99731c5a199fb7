//! The breach event log as the live stream reads it: every event with the snapshot its
//! selection can reach (loaded in a constant number of statements), the heads a subscriber
//! resumes from, the replay of what a subscriber missed (`afterSequence`), and retention.
use super::hub::BATCH;
use crate::entity::{breach, execution, sla, sla_event, user, workflow};
use crate::sla::BreachEventKind;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// One event as subscribers receive it, with everything its selection can reach.
#[derive(Clone, Debug)]
pub struct BreachEvent {
    pub seq: i64,
    pub company_id: Uuid,
    pub kind: BreachEventKind,
    pub breach: breach::Model,
    pub workflow_id: Uuid,
    pub sla: Option<sla::Model>,
    pub execution: Option<execution::Model>,
    pub workflow: Option<workflow::Model>,
    /// The workflow's owner and the acknowledger, where there are.
    pub users: Vec<user::Model>,
}

/// The newest (`Max`) or oldest (`Min`) sequence the log keeps, of one company's events or
/// of all; None while there are none.
async fn sequence(
    db: &DatabaseConnection,
    bound: sea_orm::sea_query::SimpleExpr,
    company: Option<Uuid>,
) -> Result<Option<i64>, DbErr> {
    let mut q = sla_event::Entity::find()
        .select_only()
        .column_as(bound, "m");
    if let Some(c) = company {
        q = q.filter(sla_event::Column::CompanyId.eq(c));
    }
    Ok(q.into_tuple::<Option<i64>>().one(db).await?.flatten())
}

/// The newest sequence in the log.
pub async fn last_sequence(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    sequence(db, sla_event::Column::Seq.max(), None).await
}

/// The newest sequence of one company's events; 0 when it has none.
pub async fn company_head(db: &DatabaseConnection, company: Uuid) -> Result<i64, DbErr> {
    Ok(sequence(db, sla_event::Column::Seq.max(), Some(company))
        .await?
        .unwrap_or(0))
}

/// The oldest sequence the log still keeps.
pub async fn first_sequence(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    sequence(db, sla_event::Column::Seq.min(), None).await
}

/// One company's events after `after`, at most [`BATCH`], with their snapshots.
pub async fn events_after(
    db: &DatabaseConnection,
    company: Uuid,
    after: i64,
) -> Result<Vec<Arc<BreachEvent>>, DbErr> {
    let rows = sla_event::Entity::find()
        .filter(sla_event::Column::CompanyId.eq(company))
        .filter(sla_event::Column::Seq.gt(after))
        .order_by_asc(sla_event::Column::Seq)
        .limit(BATCH)
        .all(db)
        .await?;
    load_events(db, rows).await
}

fn by_id<M, F: Fn(&M) -> Uuid>(rows: Vec<M>, id: F) -> HashMap<Uuid, M> {
    rows.into_iter().map(|r| (id(&r), r)).collect()
}

/// Everything the events' selections can reach, in five statements whatever their number.
pub async fn load_events(
    db: &DatabaseConnection,
    rows: Vec<sla_event::Model>,
) -> Result<Vec<Arc<BreachEvent>>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let breaches = by_id(
        breach::Entity::find()
            .filter(breach::Column::Id.is_in(rows.iter().map(|e| e.breach_id)))
            .all(db)
            .await?,
        |b| b.id,
    );
    let slas = by_id(
        sla::Entity::find()
            .filter(sla::Column::Id.is_in(breaches.values().map(|b| b.sla_id)))
            .all(db)
            .await?,
        |s| s.id,
    );
    let executions = by_id(
        execution::Entity::find()
            .filter(execution::Column::Id.is_in(breaches.values().map(|b| b.execution_id)))
            .all(db)
            .await?,
        |e| e.id,
    );
    let workflows = by_id(
        workflow::Entity::find()
            .filter(workflow::Column::Id.is_in(slas.values().map(|s| s.workflow_id)))
            .all(db)
            .await?,
        |w| w.id,
    );
    let user_ids = workflows
        .values()
        .filter_map(|w| w.owner_id)
        .chain(breaches.values().filter_map(|b| b.acknowledged_by));
    let users = by_id(
        user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids))
            .all(db)
            .await?,
        |u| u.id,
    );
    let mut out = Vec::with_capacity(rows.len());
    for e in rows {
        let (Some(b), Some(kind)) = (breaches.get(&e.breach_id), BreachEventKind::parse(&e.kind))
        else {
            continue;
        };
        let Some(s) = slas.get(&b.sla_id) else {
            continue;
        };
        let w = workflows.get(&s.workflow_id);
        let users = [w.and_then(|w| w.owner_id), b.acknowledged_by]
            .into_iter()
            .flatten()
            .filter_map(|id| users.get(&id).cloned())
            .collect();
        out.push(Arc::new(BreachEvent {
            seq: e.seq,
            company_id: e.company_id,
            kind,
            breach: b.clone(),
            workflow_id: s.workflow_id,
            sla: Some(s.clone()),
            execution: executions.get(&b.execution_id).cloned(),
            workflow: w.cloned(),
            users,
        }));
    }
    Ok(out)
}

/// Deletes events older than the retention; returns how many went.
pub async fn prune(
    db: &DatabaseConnection,
    older_than: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    Ok(sla_event::Entity::delete_many()
        .filter(sla_event::Column::CreatedAt.lt(older_than))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes events older than `EVENT_RETENTION_DAYS`, at start and then hourly, until the task
/// is dropped.
pub async fn run_retention(db: DatabaseConnection, clock: Arc<dyn crate::clock::Clock>, days: u64) {
    let days = days as i64;
    loop {
        let cut = clock.now() - chrono::Duration::days(days);
        match prune(&db, cut).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, days, "pruned the breach event log"),
            Err(e) => tracing::warn!(error = %e, "pruning the breach event log failed"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
