//! A page of breaches with the objects a dashboard selects beneath them (the SLA, the
//! execution and the execution's workflow) and the list's total, read in the page's own
//! statement: LEFT JOINs chosen from the selection, and the total as a scalar subquery. The
//! related rows are fed to the request's loaders, so the resolvers below the list find them in
//! the loaders' caches: the list level costs one statement, with `totalCount` or without.
//!
//! Tried and measured (docs/benchmarks.md): the page answered as JSON built by the store
//! (`json_group_array` / `json_agg`, one row, each related row once). It was no faster on
//! SQLite, where building the JSON cost what copying the joined values had, and slower on
//! PostgreSQL, whose row-to-JSON output costs about 8 µs a row.
use crate::entity::{breach, execution, sla, workflow};
use crate::error::AppResult;
use crate::graphql_base::loaders::Loaders;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, JoinType, QueryStatementBuilder, SelectStatement,
};
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

/// Decodes the joined model under `prefix` when the row has one that `seen` lacks. A page
/// repeats the same SLA, execution and workflow across its rows; each is decoded once (a
/// workflow's row carries its whole definition, parsed from JSON).
fn decode_new<M: FromQueryResult>(
    r: &sea_orm::QueryResult,
    prefix: &str,
    seen: &mut Vec<(Uuid, M)>,
) -> AppResult<()> {
    let id: Option<Uuid> = r.try_get(prefix, "id")?;
    let Some(id) = id else { return Ok(()) };
    if seen.iter().any(|(k, _)| *k == id) {
        return Ok(());
    }
    if let Some(m) = M::from_query_result_optional(r, prefix)? {
        seen.push((id, m));
    }
    Ok(())
}

/// Rows keyed by id, shared as the loaders keep them.
fn shared<M>(rows: Vec<(Uuid, M)>) -> impl Iterator<Item = (Uuid, std::sync::Arc<M>)> {
    rows.into_iter().map(|(k, v)| (k, std::sync::Arc::new(v)))
}

/// The page's statement: `page` with the relations `want` names joined, and `count` (a select
/// of one number) as the column `wi_total` of every row.
fn page_statement(
    page: Select<breach::Entity>,
    want: Wanted,
    count: Option<SelectStatement>,
) -> SelectStatement {
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
    if let Some(c) = count {
        let total = Expr::SubQuery(None, Box::new(c.into_sub_query_statement()));
        q.expr_as(total, Alias::new("wi_total"));
    }
    q
}

/// The breaches of `page` (a tenant-scoped select, already filtered, ordered and limited),
/// with the relations `want` names joined in the same statement and fed to `loaders`, and the
/// value of `count` (a select of one number) when it is given and the page has a row (an empty
/// page carries no count: None).
pub async fn fetch(
    db: &DatabaseConnection,
    page: Select<breach::Entity>,
    want: Wanted,
    count: Option<SelectStatement>,
    loaders: &Loaders,
) -> AppResult<(Vec<breach::Model>, Option<u64>)> {
    let counted = count.is_some();
    let rows = db.query_all(&page_statement(page, want, count)).await?;
    let mut total = None;
    let mut out = Vec::with_capacity(rows.len());
    let mut slas: Vec<(Uuid, sla::Model)> = Vec::new();
    let mut executions: Vec<(Uuid, execution::Model)> = Vec::new();
    let mut workflows: Vec<(Uuid, workflow::Model)> = Vec::new();
    for r in &rows {
        out.push(breach::Model::from_query_result(r, "")?);
        if counted && total.is_none() {
            let n: Option<i64> = r.try_get("", "wi_total")?;
            total = Some(Ord::max(n.unwrap_or(0), 0) as u64);
        }
        if want.sla {
            decode_new(r, "s_", &mut slas)?;
        }
        if want.execution {
            decode_new(r, "e_", &mut executions)?;
        }
        if want.workflow {
            decode_new(r, "w_", &mut workflows)?;
        }
    }
    loaders.slas.feed_many(shared(slas)).await;
    loaders.executions.feed_many(shared(executions)).await;
    loaders.workflows.feed_many(shared(workflows)).await;
    Ok((out, total))
}

/// An execution of the caller's company, with its workflow's SLAs (active or not, in id order),
/// the breaches it has of them and its workflow's labels, in one statement (what a completion
/// reads before it queues for the writer), which [`execution_with_slas`] reads.
///
/// Its text is the same for every company and execution: built once per backend and kept, as
/// building its 60 columns and three joins took about 5 % of the server's time during
/// completions. Its values are the company and the execution.
pub fn execution_with_slas_statement(
    backend: sea_orm::DatabaseBackend,
    auth: &crate::auth::AuthContext,
    id: Uuid,
) -> sea_orm::Statement {
    static TEXTS: [std::sync::OnceLock<String>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    let slot = usize::from(backend == sea_orm::DatabaseBackend::Postgres);
    let text = TEXTS[slot].get_or_init(|| build_execution_with_slas(backend, auth, id).sql);
    sea_orm::Statement::from_sql_and_values(
        backend,
        text.clone(),
        [auth.company_id.into(), id.into()],
    )
}

/// [`execution_with_slas_statement`] built anew.
fn build_execution_with_slas(
    backend: sea_orm::DatabaseBackend,
    auth: &crate::auth::AuthContext,
    id: Uuid,
) -> sea_orm::Statement {
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut q = crate::tenancy::scoped::<execution::Entity>(auth)
        .filter(execution::Column::Id.eq(id))
        .into_query();
    join(
        &mut q,
        (sla::Entity, sla::Column::WorkflowId),
        (execution::Entity, execution::Column::WorkflowId),
        (sla::Column::CompanyId, execution::Column::CompanyId),
    );
    columns::<sla::Entity>(&mut q, "s_");
    let on = Expr::col((breach::Entity, breach::Column::SlaId))
        .equals((sla::Entity, sla::Column::Id))
        .and(
            Expr::col((breach::Entity, breach::Column::ExecutionId))
                .equals((execution::Entity, execution::Column::Id)),
        );
    q.join(JoinType::LeftJoin, breach::Entity, on);
    columns::<breach::Entity>(&mut q, "b_");
    join(
        &mut q,
        (workflow::Entity, workflow::Column::Id),
        (execution::Entity, execution::Column::WorkflowId),
        (workflow::Column::CompanyId, execution::Column::CompanyId),
    );
    for (c, alias) in [
        (workflow::Column::WorkflowType, "w_workflow_type"),
        (workflow::Column::Name, "w_name"),
    ] {
        q.expr_as(Expr::col((workflow::Entity, c)), Alias::new(alias));
    }
    q.order_by((sla::Entity, sla::Column::Id), sea_orm::Order::Asc)
        .order_by((breach::Entity, breach::Column::Id), sea_orm::Order::Asc);
    backend.build(&q)
}

/// What the rows of [`execution_with_slas_statement`] hold; None when the company has no such
/// execution.
pub fn execution_with_slas(rows: &[sea_orm::QueryResult]) -> AppResult<Option<ExecutionWithSlas>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let exec = execution::Model::from_query_result(first, "")?;
    let workflow = super::effects::WorkflowLabels::from_query_result_optional(first, "w_")?;
    let mut slas: Vec<(Uuid, sla::Model)> = Vec::new();
    let mut breaches: Vec<(Uuid, breach::Model)> = Vec::new();
    for r in rows {
        decode_new(r, "s_", &mut slas)?;
        decode_new(r, "b_", &mut breaches)?;
    }
    Ok(Some(ExecutionWithSlas {
        exec,
        slas: slas.into_iter().map(|s| s.1).collect(),
        breaches: breaches.into_iter().map(|b| b.1).collect(),
        workflow,
    }))
}

/// What [`execution_with_slas`] reads.
pub struct ExecutionWithSlas {
    pub exec: execution::Model,
    /// The workflow's SLAs, active or not, in id order.
    pub slas: Vec<sla::Model>,
    /// The execution's breaches, of any of those SLAs.
    pub breaches: Vec<breach::Model>,
    /// Its workflow's type and name, for the completion's metrics.
    pub workflow: Option<super::effects::WorkflowLabels>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthContext;
    use sea_orm::DatabaseBackend;

    /// The kept text with this call's values is the statement built anew, whoever asks first.
    #[test]
    fn the_kept_completion_read_is_the_statement_built_anew() {
        for backend in [DatabaseBackend::Sqlite, DatabaseBackend::Postgres] {
            for _ in 0..3 {
                let auth = AuthContext::command_line(Uuid::now_v7());
                let id = Uuid::now_v7();
                let kept = execution_with_slas_statement(backend, &auth, id);
                let fresh = build_execution_with_slas(backend, &auth, id);
                assert_eq!(kept.sql, fresh.sql);
                assert_eq!(kept.values, fresh.values);
                assert_eq!(kept.db_backend, fresh.db_backend);
            }
        }
    }

    /// The bench's PostgreSQL ceiling (`benches/pg_ceiling/`) sends this read as the server
    /// sends it, its values as pgbench's variables: when the read changes, so must the scripts.
    #[test]
    fn the_bench_s_postgresql_ceiling_reads_as_the_server_does() {
        let auth = AuthContext::command_line(Uuid::now_v7());
        let read = execution_with_slas_statement(DatabaseBackend::Postgres, &auth, Uuid::now_v7());
        let scripted = read
            .sql
            .replace("$1", ":company::uuid")
            .replace("$2", "md5(:i::text)::uuid");
        for (name, script) in [
            ("now.sql", include_str!("../../benches/pg_ceiling/now.sql")),
            ("one.sql", include_str!("../../benches/pg_ceiling/one.sql")),
        ] {
            assert!(
                script.contains(&format!("{scripted};")),
                "benches/pg_ceiling/{name} no longer holds the completion's read"
            );
        }
    }
}
