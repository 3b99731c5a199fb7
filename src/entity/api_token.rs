use sea_orm::entity::prelude::*;

api_object!("ApiToken", "api_tokens", {
    #[graphql(skip)]
    pub user_id: Uuid,
    #[graphql(skip)]
    pub token_hash: String,
    /// What the token was issued as (`cli` for `token create`).
    pub name: String,
    #[graphql(skip)]
    pub last_used_at: Option<DateTimeUtc>,
    /// When it was revoked; null while it works.
    pub revoked_at: Option<DateTimeUtc>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
