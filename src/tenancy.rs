//! Company scoping for the tenant tables: the one place that filters a table by the caller's
//! company, reads one row of it, or deletes one. Another company's id behaves exactly like a
//! missing one (NOT_FOUND).
use crate::auth::AuthContext;
use crate::error::{AppError, AppResult};
use sea_orm::sea_query::ValueType;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, Select};
use uuid::Uuid;

/// A table whose rows belong to a company.
pub trait Tenant: EntityTrait {
    const COMPANY: Self::Column;
    const ID: Self::Column;
    /// The row's name in messages: "workflow", "SLA".
    const NAME: &'static str;
}

/// Every row of the caller's company.
pub fn scoped<E: Tenant>(auth: &AuthContext) -> Select<E> {
    E::find().filter(E::COMPANY.eq(auth.company_id))
}

/// The caller's company's row with this id, or NOT_FOUND.
pub async fn get<E: Tenant>(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
) -> AppResult<E::Model> {
    scoped::<E>(auth)
        .filter(E::ID.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("{} {id}", E::NAME)))
}

/// A row's id.
pub fn row_id<E: Tenant>(m: &E::Model) -> AppResult<Uuid> {
    <Uuid as ValueType>::try_from(m.get(E::ID))
        .map_err(|e| AppError::Internal(format!("{} id is not a UUID: {e}", E::NAME)))
}

/// Deletes the caller's company's row with this id; NOT_FOUND when there is none.
pub async fn delete<E: Tenant>(
    db: &impl ConnectionTrait,
    auth: &AuthContext,
    id: Uuid,
) -> AppResult<()> {
    get::<E>(db, auth, id).await?;
    E::delete_many()
        .filter(E::ID.eq(id))
        .filter(E::COMPANY.eq(auth.company_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Declares tables as company-scoped: `tenant!(workflow => "workflow", ...)`.
macro_rules! tenant {
    ($($module:ident => $name:literal),* $(,)?) => {
        $(impl Tenant for crate::entity::$module::Entity {
            const COMPANY: Self::Column = crate::entity::$module::Column::CompanyId;
            const ID: Self::Column = crate::entity::$module::Column::Id;
            const NAME: &'static str = $name;
        })*
    };
}

tenant!(
    action => "action",
    alert_channel => "alert channel",
    api_token => "API token",
    breach => "breach",
    calendar => "calendar",
    execution => "execution",
    simulation => "simulation",
    sla => "SLA",
    suggestion => "suggestion",
    template => "template",
    user => "user",
    workflow => "workflow",
);
