use sea_orm::entity::prelude::*;

api_object!("User", "users", hidden(created_at), {
    pub email: String,
    pub name: String,
    #[graphql(skip)]
    pub role: String,
    #[graphql(skip)]
    pub is_active: bool,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
