use sea_orm::entity::prelude::*;

api_object!("ProcessTemplate", "process_templates", {
    pub name: String,
    /// Semantic version MAJOR.MINOR.PATCH.
    pub version: String,
    #[graphql(skip)]
    pub version_major: i64,
    #[graphql(skip)]
    pub version_minor: i64,
    #[graphql(skip)]
    pub version_patch: i64,
    #[graphql(skip)]
    pub template_type: String,
    pub description: String,
    /// Steps in the workflow step model; `{{variable}}` placeholders are filled in when a
    /// workflow is created from the template.
    pub process_steps: Json,
    #[graphql(skip)]
    pub variables: Json,
    pub settings: Json,
    #[graphql(skip)]
    pub graph_spec: Json,
    #[graphql(skip)]
    pub actions: Option<Json>,
    /// Public templates are in every company's marketplace: readable and instantiable by
    /// all, changed only by their owner.
    pub is_public: bool,
    pub usage_count: i64,
    pub last_used_at: Option<DateTimeUtc>,
    #[graphql(skip)]
    pub created_by: Option<Uuid>,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
