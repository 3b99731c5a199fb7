//! Batched relation loading: a list of N items costs one statement per relation, not N.
//! Every loader is bound to the caller's company, so a relation never crosses tenants.
use crate::entity::{action, execution, sla, step_execution, user, workflow};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub type LoadError = Arc<DbErr>;

/// The loaders of one request (or of one live event). Rows are cached for the loaders' life,
/// as DataLoader intends, so a live event's snapshot can be fed in before its resolvers run.
pub struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub actions: DataLoader<ActionByTypeLoader>,
    pub workflows: DataLoader<WorkflowLoader, HashMapCache>,
    pub slas: DataLoader<ById<sla::Entity>, HashMapCache>,
    pub executions: DataLoader<ById<execution::Entity>, HashMapCache>,
    pub steps: DataLoader<StepsByExecution>,
}

fn cached<T: Loader<K>, K>(loader: T) -> DataLoader<T, HashMapCache>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

impl Loaders {
    pub fn new(db: DatabaseConnection, company_id: Uuid) -> Self {
        Loaders {
            users: cached(UserLoader {
                db: db.clone(),
                company_id,
            }),
            actions: DataLoader::new(
                ActionByTypeLoader {
                    db: db.clone(),
                    company_id,
                },
                tokio::spawn,
            ),
            workflows: cached(WorkflowLoader {
                db: db.clone(),
                company_id,
            }),
            slas: cached(ById::new(
                db.clone(),
                company_id,
                sla::Column::Id,
                sla::Column::CompanyId,
            )),
            executions: cached(ById::new(
                db.clone(),
                company_id,
                execution::Column::Id,
                execution::Column::CompanyId,
            )),
            steps: DataLoader::new(StepsByExecution { db, company_id }, tokio::spawn),
        }
    }
}

pub struct UserLoader {
    db: DatabaseConnection,
    company_id: Uuid,
}

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::CompanyId.eq(self.company_id))
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
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

pub struct WorkflowLoader {
    db: DatabaseConnection,
    company_id: Uuid,
}

impl Loader<Uuid> for WorkflowLoader {
    type Value = workflow::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = workflow::Entity::find()
            .filter(workflow::Column::CompanyId.eq(self.company_id))
            .filter(workflow::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// Rows of a tenant-owned table by primary key.
pub struct ById<E: EntityTrait> {
    db: DatabaseConnection,
    company_id: Uuid,
    id: E::Column,
    company: E::Column,
}

impl<E: EntityTrait> ById<E> {
    pub fn new(
        db: DatabaseConnection,
        company_id: Uuid,
        id: E::Column,
        company: E::Column,
    ) -> Self {
        ById {
            db,
            company_id,
            id,
            company,
        }
    }
}

/// Models that know their primary key.
pub trait HasId {
    fn key(&self) -> Uuid;
}

impl HasId for sla::Model {
    fn key(&self) -> Uuid {
        self.id
    }
}

impl HasId for execution::Model {
    fn key(&self) -> Uuid {
        self.id
    }
}

impl<E> Loader<Uuid> for ById<E>
where
    E: EntityTrait + Send + Sync,
    E::Model: HasId + Clone + Send + Sync,
    E::Column: Send + Sync,
{
    type Value = E::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = E::find()
            .filter(self.company.eq(self.company_id))
            .filter(self.id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.key(), r)).collect())
    }
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
