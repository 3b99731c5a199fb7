use sea_orm::entity::prelude::*;

/// A secret (a webhook's signing key, a PagerDuty routing key) as stored: never shown in
/// `Debug` output or serialised, so that it cannot reach a log line or an API answer.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("redacted")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret(String::deserialize(d)?))
    }
}

api_object!("AlertChannel", "alert_channels", {
    pub name: String,
    #[graphql(skip)]
    pub kind: String,
    /// Kept whole in the store; the API shows only its scheme and host (a Slack or
    /// PagerDuty URL may carry a credential in its path).
    #[graphql(skip)]
    pub url: String,
    #[graphql(skip)]
    pub secret: Secret,
    pub is_active: bool,
});

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
