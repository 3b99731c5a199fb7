//! A page of breaches with the objects a dashboard selects beneath them (the SLA, the
//! execution and the execution's workflow) and its total, read in one statement that the store
//! answers as JSON (how Hasura and PostGraphile answer a nested selection): one row of a few
//! texts, each related row once, whatever the page repeats. The rows are fed to the request's
//! loaders, so the resolvers below the list find them in the loaders' caches.
//!
//! JSON, not a join: the drivers copy every value of every row they return (sqlx's SQLite
//! driver duplicates each one and hands the rows over from its connection thread one by one),
//! and a join repeats the SLA's, the execution's and the workflow's columns on each row of the
//! page. A page of 20 with all three was 21 rows of 73 values; it is now one row of up to five.
use crate::entity::{breach, execution, sla, workflow};
use crate::error::AppResult;
use crate::graphql_base::loaders::Loaders;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, JoinType, Query, QueryStatementBuilder,
    SelectStatement, WithClause,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, Iterable,
    QueryTrait, Select,
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

/// Decodes the joined model under `prefix` when the row has one that `seen` lacks.
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

/// SQLite's JSON object of `E`'s row under table alias `t`, keyed by column name (the model's
/// field names): uuids (stored as blobs) as hex, booleans (integers) as JSON booleans, JSON
/// columns (stored as text) as JSON, reals to 17 significant digits; timestamps are already
/// RFC 3339 text.
fn sqlite_object<E: EntityTrait>(t: &str) -> String {
    use sea_orm::sea_query::ColumnType;
    use sea_orm::{ColumnTrait, IdenStatic};
    let fields = E::Column::iter().map(|c| {
        let col = format!("\"{t}\".\"{}\"", c.as_str());
        let value = match c.def().get_column_type() {
            ColumnType::Uuid => format!("nullif(lower(hex({col})), '')"),
            ColumnType::Boolean => format!(
                "json(CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN 'true' ELSE 'false' END)"
            ),
            ColumnType::Json | ColumnType::JsonBinary => format!("json({col})"),
            // SQLite's JSON writes a real with 15 significant digits, and its printf stops at 16
            // without the `!` flag; 17 read back exactly.
            ColumnType::Double | ColumnType::Float => {
                format!("json(CASE WHEN {col} IS NULL THEN NULL ELSE printf('%!.17g', {col}) END)")
            }
            _ => col,
        };
        format!("'{}', {value}", c.as_str())
    });
    format!("json_object({})", fields.collect::<Vec<_>>().join(", "))
}

/// The rows of table alias `t` (of `E`) as one JSON array text, `[]` when there are none.
/// Each expression's text is built once (a few of them, kept for the process's life).
fn json_array<E: EntityTrait>(backend: DbBackend, t: &'static str) -> Expr {
    type Built = std::collections::HashMap<(bool, &'static str, &'static str), &'static str>;
    static BUILT: std::sync::LazyLock<std::sync::Mutex<Built>> =
        std::sync::LazyLock::new(Default::default);
    let pg = backend == DbBackend::Postgres;
    let key = (pg, E::default().table_name(), t);
    let build = || -> &'static str {
        let text = match pg {
            true => format!("coalesce(json_agg(\"{t}\"), '[]')::text"),
            false => format!("json_group_array({})", sqlite_object::<E>(t)),
        };
        Box::leak(text.into_boxed_str())
    };
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    Expr::cust(*built.entry(key).or_insert_with(build))
}

fn scalar(q: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(q.into_sub_query_statement()))
}

/// The page's values of its column `c` (the page is the CTE `p`).
fn of_page(c: breach::Column) -> SelectStatement {
    Query::select().column(c).from(Alias::new("p")).to_owned()
}

/// The company's rows of `E` whose id is in `ids`, as a JSON array text.
fn related<E: EntityTrait>(
    backend: DbBackend,
    t: &'static str,
    (id, company_col): (E::Column, E::Column),
    ids: SelectStatement,
    company: Uuid,
) -> Expr {
    let a = Alias::new(t);
    scalar(
        Query::select()
            .expr(json_array::<E>(backend, t))
            .from_as(E::default(), a.clone())
            .and_where(Expr::col((a.clone(), id)).in_subquery(ids))
            .and_where(Expr::col((a, company_col)).eq(company))
            .to_owned(),
    )
}

/// The one statement of a page: `WITH p AS (page) SELECT b, s, e, w, n`, each a scalar
/// subquery; `s`, `e` and `w` as `want` names them, `n` when `count` is given.
fn page_statement(
    backend: DbBackend,
    company: Uuid,
    page: Select<breach::Entity>,
    want: Wanted,
    count: Option<SelectStatement>,
) -> sea_orm::sea_query::WithQuery {
    let mut q = Query::select();
    let b = Query::select()
        .expr(json_array::<breach::Entity>(backend, "p"))
        .from(Alias::new("p"))
        .to_owned();
    q.expr_as(scalar(b), Alias::new("b"));
    if want.sla {
        let ids = of_page(breach::Column::SlaId);
        let cols = (sla::Column::Id, sla::Column::CompanyId);
        q.expr_as(
            related::<sla::Entity>(backend, "s", cols, ids, company),
            Alias::new("s"),
        );
    }
    let executions = of_page(breach::Column::ExecutionId);
    if want.execution {
        let cols = (execution::Column::Id, execution::Column::CompanyId);
        let e = related::<execution::Entity>(backend, "e", cols, executions.clone(), company);
        q.expr_as(e, Alias::new("e"));
    }
    if want.execution && want.workflow {
        let ids = Query::select()
            .column(execution::Column::WorkflowId)
            .from(execution::Entity)
            .and_where(Expr::col(execution::Column::Id).in_subquery(executions))
            .and_where(Expr::col(execution::Column::CompanyId).eq(company))
            .to_owned();
        let cols = (workflow::Column::Id, workflow::Column::CompanyId);
        q.expr_as(
            related::<workflow::Entity>(backend, "w", cols, ids, company),
            Alias::new("w"),
        );
    }
    if let Some(c) = count {
        q.expr_as(scalar(c), Alias::new("n"));
    }
    let cte = CommonTableExpression::new()
        .query(page.into_query())
        .table_name(Alias::new("p"))
        .to_owned();
    q.with(WithClause::new().cte(cte).to_owned())
}

/// The models in column `col` of the page statement's row (absent: none).
fn models<M: serde::de::DeserializeOwned>(
    row: &sea_orm::QueryResult,
    col: &str,
) -> AppResult<Vec<M>> {
    let Some(text) = row.try_get::<Option<String>>("", col)? else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&text)
        .map_err(|e| DbErr::Type(format!("the page's {col} as JSON: {e}")).into())
}

fn keyed<M>(ms: Vec<M>, id: impl Fn(&M) -> Uuid) -> Vec<(Uuid, M)> {
    ms.into_iter().map(|m| (id(&m), m)).collect()
}

/// The breaches of `page` (a select of `company`'s breaches, already filtered, ordered and
/// limited), in id order, with the relations `want` names fed to `loaders`, and the sum of
/// `count` (a select of one number) when it is given; one statement.
pub async fn fetch(
    db: &DatabaseConnection,
    company: Uuid,
    page: Select<breach::Entity>,
    want: Wanted,
    count: Option<SelectStatement>,
    loaders: &Loaders,
) -> AppResult<(Vec<breach::Model>, Option<u64>)> {
    let counted = count.is_some();
    let stmt = page_statement(db.get_database_backend(), company, page, want, count);
    let Some(row) = db.query_one(&stmt).await? else {
        return Ok((Vec::new(), counted.then_some(0)));
    };
    let mut rows: Vec<breach::Model> = models(&row, "b")?;
    rows.sort_by_key(|b| b.id);
    let total = if counted {
        let n: Option<i64> = row.try_get("", "n")?;
        Some(Ord::max(n.unwrap_or(0), 0) as u64)
    } else {
        None
    };
    if want.sla {
        let slas = models::<sla::Model>(&row, "s")?;
        loaders.slas.feed_many(keyed(slas, |m| m.id)).await;
    }
    if want.execution {
        let executions = models::<execution::Model>(&row, "e")?;
        loaders
            .executions
            .feed_many(keyed(executions, |m| m.id))
            .await;
    }
    if want.execution && want.workflow {
        let workflows = models::<workflow::Model>(&row, "w")?;
        loaders
            .workflows
            .feed_many(keyed(workflows, |m| m.id))
            .await;
    }
    Ok((rows, total))
}

/// An execution of the caller's company, with its workflow's SLAs (active or not, in id order),
/// the breaches it has of them and its workflow's labels, in one statement (what a completion
/// reads before it queues for the writer), which [`execution_with_slas`] reads.
pub fn execution_with_slas_statement(
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
