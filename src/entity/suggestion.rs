use sea_orm::entity::prelude::*;

api_object!("Suggestion", "workflow_suggestions", {
    #[graphql(skip)]
    pub workflow_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    #[graphql(skip)]
    pub source: String,
    #[graphql(skip)]
    pub suggestion_type: String,
    /// Derived from the statistics (a Wilson bound), 0 to 1.
    pub confidence_score: f64,
    /// How many executions the pattern rests on.
    pub pattern_frequency: i64,
    /// Counts, rates and a sample of execution ids.
    pub evidence: Json,
    /// The change, structured: the condition to add, the steps to run in parallel…
    pub proposed_change: Json,
    /// History replayed under the change: cases affected, hours saved, and cases it would have
    /// decided differently from the humans.
    pub impact: Json,
    #[graphql(skip)]
    pub fingerprint: String,
    #[graphql(skip)]
    pub status: String,
    #[graphql(skip)]
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub review_notes: String,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
