//! A page of breaches with the objects a dashboard selects beneath them (the SLA, the
//! execution and the execution's workflow) read in the page's own statement, by LEFT JOINs
//! chosen from the selection, and fed to the request's loaders: the list level costs one
//! statement, and the resolvers below it find their rows in the loaders' caches.
use crate::entity::{breach, execution, sla, workflow};
use crate::error::AppResult;
use crate::graphql_base::loaders::Loaders;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, SelectStatement};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, Iterable, QueryTrait, Select,
};
use uuid::Uuid;

/// Which of a breach's relations the selection reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub sla: bool,
    pub execution: bool,
    /// The execution's workflow.
    pub workflow: bool,
}

impl Wanted {
    pub fn any(&self) -> bool {
        self.sla || self.execution
    }
}

/// Selects every column of `E` as `prefix` + its name.
fn columns<E: EntityTrait>(q: &mut SelectStatement, prefix: &str) {
    use sea_orm::IdenStatic;
    for c in E::Column::iter() {
        q.expr_as(
            Expr::col((E::default(), c)),
            Alias::new(format!("{prefix}{}", c.as_str())),
        );
    }
}

/// `LEFT JOIN to ON to.id = from_col AND to.company_id = from.company_id`.
fn join<T: EntityTrait, F: EntityTrait>(
    q: &mut SelectStatement,
    to: (T, T::Column),
    from: (F, F::Column),
    companies: (T::Column, F::Column),
) {
    let on = Expr::col((to.0, to.1))
        .equals((from.0, from.1))
        .and(Expr::col((to.0, companies.0)).equals((from.0, companies.1)));
    q.join(JoinType::LeftJoin, to.0, on);
}

/// The breaches of `page` (a tenant-scoped select, already filtered, ordered and limited),
/// with the relations `want` names joined in the same statement and fed to `loaders`.
pub async fn fetch(
    db: &DatabaseConnection,
    page: Select<breach::Entity>,
    want: Wanted,
    loaders: &Loaders,
) -> AppResult<Vec<breach::Model>> {
    let mut q = page.into_query();
    if want.sla {
        join(
            &mut q,
            (sla::Entity, sla::Column::Id),
            (breach::Entity, breach::Column::SlaId),
            (sla::Column::CompanyId, breach::Column::CompanyId),
        );
        columns::<sla::Entity>(&mut q, "s_");
    }
    if want.execution {
        join(
            &mut q,
            (execution::Entity, execution::Column::Id),
            (breach::Entity, breach::Column::ExecutionId),
            (execution::Column::CompanyId, breach::Column::CompanyId),
        );
        columns::<execution::Entity>(&mut q, "e_");
        if want.workflow {
            join(
                &mut q,
                (workflow::Entity, workflow::Column::Id),
                (execution::Entity, execution::Column::WorkflowId),
                (workflow::Column::CompanyId, execution::Column::CompanyId),
            );
            columns::<workflow::Entity>(&mut q, "w_");
        }
    }
    let rows = db.query_all(&q).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut slas: Vec<(Uuid, sla::Model)> = Vec::new();
    let mut executions: Vec<(Uuid, execution::Model)> = Vec::new();
    let mut workflows: Vec<(Uuid, workflow::Model)> = Vec::new();
    for r in &rows {
        out.push(breach::Model::from_query_result(r, "")?);
        if want.sla
            && let Some(s) = sla::Model::from_query_result_optional(r, "s_")?
        {
            slas.push((s.id, s));
        }
        if want.execution
            && let Some(e) = execution::Model::from_query_result_optional(r, "e_")?
        {
            executions.push((e.id, e));
        }
        if want.workflow
            && let Some(w) = workflow::Model::from_query_result_optional(r, "w_")?
        {
            workflows.push((w.id, w));
        }
    }
    loaders.slas.feed_many(slas).await;
    loaders.executions.feed_many(executions).await;
    loaders.workflows.feed_many(workflows).await;
    Ok(out)
}
