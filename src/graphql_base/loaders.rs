//! Batched relation loading: a list of N items costs one statement per relation, not N.
//! Every loader is bound to the caller's company, so a relation never crosses tenants.
use crate::entity::{action, execution, sla, step_execution, user, workflow};
use crate::error::AppError;
use crate::tenancy::{Tenant, row_id};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use uuid::Uuid;

pub type LoadError = Arc<DbErr>;

/// The loaders of one request (or of one live event). Rows are cached for the loaders' life,
/// as DataLoader intends, so a live event's snapshot can be fed in before its resolvers run.
/// Rows by id are kept behind an `Arc`: DataLoader hands out a clone of the cached value on
/// every load, and a list of 20 breaches loads its SLA, execution and workflow 20 times each
/// (a workflow's row holds its whole definition).
pub struct Loaders {
    pub users: ByIdLoader<user::Entity>,
    pub actions: DataLoader<ActionByTypeLoader>,
    pub workflows: ByIdLoader<workflow::Entity>,
    pub slas: ByIdLoader<sla::Entity>,
    pub executions: ByIdLoader<execution::Entity>,
    pub steps: DataLoader<StepsByExecution>,
}

/// A cached loader of one tenant table's rows by id.
pub type ByIdLoader<E> = DataLoader<ById<E>, HashMapCache>;

fn by_id<E: Tenant>(db: &DatabaseConnection, company_id: Uuid) -> ByIdLoader<E> {
    let loader = ById {
        db: db.clone(),
        company_id,
        table: PhantomData,
    };
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

impl Loaders {
    pub fn new(db: DatabaseConnection, company_id: Uuid) -> Self {
        Loaders {
            users: by_id(&db, company_id),
            actions: DataLoader::new(
                ActionByTypeLoader {
                    db: db.clone(),
                    company_id,
                },
                tokio::spawn,
            ),
            workflows: by_id(&db, company_id),
            slas: by_id(&db, company_id),
            executions: by_id(&db, company_id),
            steps: DataLoader::new(StepsByExecution { db, company_id }, tokio::spawn),
        }
    }
}

/// The row with this id through the request's loader for its table; None for an id outside
/// the caller's company.
pub async fn one<E: Tenant>(
    loader: &ByIdLoader<E>,
    id: Uuid,
) -> async_graphql::Result<Option<Arc<E::Model>>>
where
    E::Model: Send + Sync,
{
    Ok(loader.load_one(id).await.map_err(AppError::from)?)
}

/// Catalog actions by their `action_type`, the key workflow steps use.
pub struct ActionByTypeLoader {
    db: DatabaseConnection,
    company_id: Uuid,
}

impl Loader<String> for ActionByTypeLoader {
    type Value = action::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let rows = action::Entity::find()
            .filter(action::Column::CompanyId.eq(self.company_id))
            .filter(action::Column::ActionType.is_in(keys.iter().cloned()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.action_type.clone(), r))
            .collect())
    }
}

/// Rows of a tenant table by primary key, of one company.
pub struct ById<E> {
    db: DatabaseConnection,
    company_id: Uuid,
    table: PhantomData<fn() -> E>,
}

impl<E> Loader<Uuid> for ById<E>
where
    E: Tenant,
    E::Model: Send + Sync,
{
    type Value = Arc<E::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = E::find()
            .filter(E::COMPANY.eq(self.company_id))
            .filter(E::ID.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| Ok((row_id::<E>(&r).map_err(key_error)?, Arc::new(r))))
            .collect()
    }
}

fn key_error(e: AppError) -> LoadError {
    Arc::new(DbErr::Type(e.to_string()))
}

/// The reported steps of executions, in start order.
pub struct StepsByExecution {
    db: DatabaseConnection,
    company_id: Uuid,
}

impl Loader<Uuid> for StepsByExecution {
    type Value = Vec<step_execution::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        use sea_orm::QueryOrder;
        let rows = step_execution::Entity::find()
            .filter(step_execution::Column::CompanyId.eq(self.company_id))
            .filter(step_execution::Column::ExecutionId.is_in(keys.iter().copied()))
            .order_by_asc(step_execution::Column::StartedAt)
            .order_by_asc(step_execution::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<Uuid, Vec<step_execution::Model>> = HashMap::new();
        for r in rows {
            out.entry(r.execution_id).or_default().push(r);
        }
        Ok(out)
    }
}
