//! Typed enums shared by the database layer (stored as snake_case strings) and GraphQL
//! (UPPER_CASE values).

/// Declares an enum that is a GraphQL enum, serialises as snake_case (reading either case),
/// and converts to and from its stored string.
#[macro_export]
macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum $name {
            $(#[serde(rename = $s)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        /// Accepts the stored form (`very_slow`) and the GraphQL form (`VERY_SLOW`).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&s, &[$($s),+])
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// What a user may do within their company.
    Role { Admin => "admin", Editor => "editor", Viewer => "viewer" }
);

str_enum!(
    /// How long an action usually takes.
    LatencyClass {
        Instant => "instant",
        Fast => "fast",
        Medium => "medium",
        Slow => "slow",
        VerySlow => "very_slow",
    }
);

impl LatencyClass {
    /// The documented default duration for an action of this class with no measured history.
    pub fn default_duration_ms(self) -> i64 {
        match self {
            LatencyClass::Instant => 10,
            LatencyClass::Fast => 500,
            LatencyClass::Medium => 5_000,
            LatencyClass::Slow => 60_000,
            LatencyClass::VerySlow => 3_600_000,
        }
    }
}

str_enum!(
    WorkflowType {
        Approval => "approval",
        Notification => "notification",
        Automation => "automation",
        Escalation => "escalation",
        Custom => "custom",
    }
);

str_enum!(
    WorkflowStatus {
        Draft => "draft",
        Active => "active",
        Inactive => "inactive",
        Archived => "archived",
    }
);

str_enum!(
    ExecutionStatus {
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
        Paused => "paused",
    }
);

/// Parses a stored enum string, turning a corrupt value into an internal error instead of a
/// panic.
pub fn stored<T>(parse: fn(&str) -> Option<T>, value: &str) -> Result<T, crate::error::AppError> {
    parse(value)
        .ok_or_else(|| crate::error::AppError::Internal(format!("unknown stored value {value:?}")))
}

str_enum!(
    /// An approver's decision.
    ApprovalDecision { Approved => "approved", Rejected => "rejected" }
);

str_enum!(
    /// A reported step's status.
    StepRunStatus {
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Skipped => "skipped",
    }
);

str_enum!(
    /// How an execution may finish.
    FinalStatus {
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl From<FinalStatus> for ExecutionStatus {
    fn from(f: FinalStatus) -> Self {
        match f {
            FinalStatus::Completed => ExecutionStatus::Completed,
            FinalStatus::Failed => ExecutionStatus::Failed,
            FinalStatus::Cancelled => ExecutionStatus::Cancelled,
        }
    }
}

/// A display name: trimmed, 1 to 200 characters.
pub fn check_name(n: &str) -> Result<String, crate::error::AppError> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(crate::error::AppError::bad(
            "name must be 1 to 200 characters",
        ));
    }
    Ok(n.to_string())
}
