//! Relay connections over UUID v7 primary keys: keyset pagination in id order (which is
//! creation order), opaque cursors, and `totalCount`, counted only when it is selected (a
//! page costs the same over 200 rows as over 100,000; the count grows with what it counts).
use crate::error::{AppError, AppResult};
use crate::tenancy::{Tenant, row_id};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Object, OutputType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

type Counter = Box<dyn Fn() -> BoxFuture<'static, Result<u64, DbErr>> + Send + Sync>;

/// The connection's own fields. The count runs only if `totalCount` is selected.
pub struct ConnectionFields {
    count: Counter,
}

impl ConnectionFields {
    /// A count already known.
    pub fn known(n: u64) -> Self {
        ConnectionFields {
            count: Box::new(move || Box::pin(async move { Ok(n) })),
        }
    }

    /// The count of a filtered select, run when asked for.
    pub fn of<E>(db: &DatabaseConnection, select: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: FromQueryResult + Sized + Send + Sync,
    {
        let db = db.clone();
        ConnectionFields {
            count: Box::new(move || {
                let (db, select) = (db.clone(), select.clone());
                Box::pin(async move { select.count(&db).await })
            }),
        }
    }

    /// The sum of a column over a filtered select of counter rows (a count kept as rows, one
    /// per group), run when asked for.
    pub fn sum_of<E>(db: &DatabaseConnection, select: Select<E>, col: E::Column) -> Self
    where
        E: EntityTrait,
    {
        let db = db.clone();
        let select = sum_select(select, col);
        ConnectionFields {
            count: Box::new(move || {
                let (db, select) = (db.clone(), select.clone());
                Box::pin(async move {
                    let n: Option<i64> = select.into_tuple().one(&db).await?;
                    Ok(Ord::max(n.unwrap_or(0), 0) as u64)
                })
            }),
        }
    }
}

/// `SELECT CAST(COALESCE(SUM(col), 0) AS BIGINT) AS n` over a filtered select of counter rows.
pub fn sum_select<E: EntityTrait>(select: Select<E>, col: E::Column) -> Select<E> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
    let sum = Expr::from(Func::cast_as(
        Func::coalesce([Expr::col(col).sum(), Expr::val(0)]),
        Alias::new("BIGINT"),
    ));
    select.select_only().column_as(sum, "n")
}

#[Object]
impl ConnectionFields {
    /// How many items match the filter, across all pages (counted only when this field is
    /// selected).
    async fn total_count(&self) -> async_graphql::Result<u64> {
        Ok((self.count)().await.map_err(AppError::from)?)
    }
}

pub type Page<N> = Connection<String, N, ConnectionFields>;

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1:{id}"))
}

pub fn decode_cursor(cursor: &str) -> AppResult<Uuid> {
    let bad = || {
        AppError::bad(format!(
            "invalid cursor {cursor:?}: pass an endCursor from pageInfo"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = text.strip_prefix("c1:").ok_or_else(bad)?;
    Uuid::parse_str(id).map_err(|_| bad())
}

/// A cursor for lists ordered by something other than id: the position in the ordering.
pub fn encode_offset(position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o1:{position}"))
}

pub fn decode_offset(cursor: &str) -> AppResult<u64> {
    let bad = || {
        AppError::bad(format!(
            "invalid cursor {cursor:?}: pass an endCursor from pageInfo"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("o1:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)
}

pub fn page_size(first: Option<i32>) -> AppResult<u64> {
    let n = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&n) {
        return Err(AppError::bad(format!(
            "first must be between 0 and {MAX_PAGE}, got {n}"
        )));
    }
    Ok(n as u64)
}

/// Runs a filtered select of a tenant table as one page, in id order: one SELECT, whatever
/// the page size, and one COUNT if `totalCount` is selected.
pub async fn paginate<E>(
    db: &DatabaseConnection,
    select: Select<E>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Page<E::Model>>
where
    E: Tenant,
    E::Model: FromQueryResult + Sized + Send + Sync + OutputType,
{
    let fields = ConnectionFields::of(db, select.clone());
    let fetch = |q: Select<E>| async move { Ok((q.all(db).await?, fields)) };
    paginate_fetched(select, first, after, fetch).await
}

/// [`paginate`], with the page's rows read by `fetch` from the select it is given (filtered by
/// the cursor, ordered and limited) and the connection's own fields given beside them: a
/// caller that joins the rows' relations, or counts, in the page's own statement does it here.
pub async fn paginate_fetched<E, F, Fut>(
    select: Select<E>,
    first: Option<i32>,
    after: Option<String>,
    fetch: F,
) -> AppResult<Page<E::Model>>
where
    E: Tenant,
    E::Model: FromQueryResult + Sized + Send + Sync + OutputType,
    F: FnOnce(Select<E>) -> Fut,
    Fut: std::future::Future<Output = AppResult<(Vec<E::Model>, ConnectionFields)>>,
{
    let id_col = E::ID;
    let limit = page_size(first)?;
    let after_id = after.as_deref().map(decode_cursor).transpose()?;
    let mut q = select;
    if let Some(a) = after_id {
        q = q.filter(id_col.gt(a));
    }
    let (rows, fields) = fetch(q.order_by_asc(id_col).limit(limit + 1)).await?;
    let has_next = rows.len() as u64 > limit;
    let mut conn = Connection::with_additional_fields(after_id.is_some(), has_next, fields);
    for m in rows.into_iter().take(limit as usize) {
        conn.edges
            .push(Edge::new(encode_cursor(row_id::<E>(&m)?), m));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        assert!(decode_cursor("nope!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("c1:xyz")).is_err());
        assert_eq!(decode_offset(&encode_offset(41)).unwrap(), 41);
        assert!(decode_offset(&encode_cursor(id)).is_err());
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-1)).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
    }
}
