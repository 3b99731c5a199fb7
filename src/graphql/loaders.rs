//! Batched relation loading: a list of N items costs one statement per relation, not N.
//! Every loader is bound to the caller's company, so a relation never crosses tenants.
use crate::entity::{action, user, workflow};
use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub type LoadError = Arc<DbErr>;

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub actions: DataLoader<ActionByTypeLoader>,
    pub workflows: DataLoader<WorkflowLoader>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, company_id: Uuid) -> Self {
        Loaders {
            users: DataLoader::new(
                UserLoader {
                    db: db.clone(),
                    company_id,
                },
                tokio::spawn,
            ),
            actions: DataLoader::new(
                ActionByTypeLoader {
                    db: db.clone(),
                    company_id,
                },
                tokio::spawn,
            ),
            workflows: DataLoader::new(WorkflowLoader { db, company_id }, tokio::spawn),
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
