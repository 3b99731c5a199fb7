use sea_orm::entity::prelude::*;

api_object!("User", "users", {
    pub email: String,
    pub name: String,
    #[graphql(skip)]
    pub role: String,
    #[graphql(skip)]
    pub is_active: bool,
    #[graphql(skip)]
    pub created_at: DateTimeUtc,
    #[graphql(skip)]
    pub updated_at: DateTimeUtc,
});

no_relations!();
