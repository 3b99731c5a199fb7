//! Suggestions mined from execution history: pure miners, their service and GraphQL.
pub mod graphql;
pub mod llm;
pub mod miners;
pub mod service;

use crate::str_enum;

str_enum!(
    SuggestionType {
        AutoApproval => "auto_approval",
        AutoRejection => "auto_rejection",
        ParallelApproval => "parallel_approval",
        Performance => "performance",
        ErrorHandling => "error_handling",
    }
);

str_enum!(
    SuggestionSource { Historical => "historical", Llm => "llm", Pattern => "pattern", User => "user" }
);

str_enum!(
    SuggestionStatus {
        Pending => "pending",
        Accepted => "accepted",
        Rejected => "rejected",
        Implemented => "implemented",
    }
);
