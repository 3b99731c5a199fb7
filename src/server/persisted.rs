//! Apollo's automatic persisted queries: a client sends `extensions.persistedQuery.sha256Hash`
//! alone; on a miss (`PersistedQueryNotFound`) it sends the query with its hash once, and from
//! then on the hash is enough, over POST or over GET, where the short URL is what a CDN keys on.
//!
//! Ours, not async-graphql's `ApolloPersistedQueries` extension: that one resolves the hash
//! inside execution, after the HTTP layer has decided whether a GET may run the document (a GET
//! naming a mutation's hash would run it), and its cache counts entries, not bytes. Here the
//! hash is resolved first, so every HTTP rule sees the real document, and the cache holds at
//! most `PERSISTED_QUERIES_CACHE_BYTES` of query text (least recently used goes first).
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub struct PersistedQueries {
    cache: Option<moka::future::Cache<String, Arc<str>>>,
}

/// Why a persisted query could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum PersistedError {
    /// The hash is unknown here (never sent, evicted, or another replica's): send the query.
    NotFound,
    /// Persisted queries are off (`PERSISTED_QUERIES_CACHE_BYTES=0`).
    NotSupported,
    /// The extension is malformed, or the hash is not the query's SHA-256.
    Invalid(String),
}

impl PersistedError {
    pub fn code(&self) -> &'static str {
        match self {
            PersistedError::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            PersistedError::NotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            PersistedError::Invalid(_) => "BAD_USER_INPUT",
        }
    }

    /// The messages Apollo Client matches on.
    pub fn message(&self) -> String {
        match self {
            PersistedError::NotFound => "PersistedQueryNotFound".into(),
            PersistedError::NotSupported => "PersistedQueryNotSupported".into(),
            PersistedError::Invalid(m) => m.clone(),
        }
    }
}

impl PersistedQueries {
    pub fn new(max_bytes: u64) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &String, v: &Arc<str>| {
                    u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX)
                })
                .build()
        });
        PersistedQueries { cache }
    }

    /// Fills in `query` from the hash in `extensions.persistedQuery`, or remembers the query
    /// sent with its hash. Parameters without the extension are left alone.
    pub async fn resolve(
        &self,
        params: &mut serde_json::Map<String, Value>,
    ) -> Result<(), PersistedError> {
        let Some(pq) = params
            .get("extensions")
            .and_then(|e| e.get("persistedQuery"))
        else {
            return Ok(());
        };
        let hash = hash_of(pq)?;
        let Some(cache) = &self.cache else {
            return Err(PersistedError::NotSupported);
        };
        match params.get("query").and_then(Value::as_str) {
            Some(q) if !q.is_empty() => {
                let actual = hex::encode(Sha256::digest(q.as_bytes()));
                if actual != hash {
                    return Err(PersistedError::Invalid(format!(
                        "persistedQuery.sha256Hash {hash} is not the SHA-256 of the query ({actual})"
                    )));
                }
                cache.insert(hash, Arc::from(q)).await;
                Ok(())
            }
            _ => match cache.get(&hash).await {
                Some(q) => {
                    params.insert("query".into(), Value::String(q.to_string()));
                    Ok(())
                }
                None => Err(PersistedError::NotFound),
            },
        }
    }
}

/// The lowercase hex hash of a version-1 `persistedQuery` extension.
fn hash_of(pq: &Value) -> Result<String, PersistedError> {
    let invalid = |m: &str| PersistedError::Invalid(format!("extensions.persistedQuery: {m}"));
    if pq.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(invalid("only version 1 is supported"));
    }
    let hash = pq
        .get("sha256Hash")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("sha256Hash must be a string"))?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("sha256Hash must be 64 hexadecimal digits"));
    }
    Ok(hash.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn a_hash_is_registered_with_its_query_then_resolves_alone() {
        let pq = PersistedQueries::new(1 << 20);
        let q = "{ __typename }";
        let hash = hex::encode(Sha256::digest(q.as_bytes()));
        let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
        let mut by_hash = params(json!({"extensions": ext}));
        assert_eq!(
            pq.resolve(&mut by_hash).await,
            Err(PersistedError::NotFound)
        );
        let mut with_query = params(json!({"query": q, "extensions": ext}));
        pq.resolve(&mut with_query).await.unwrap();
        pq.resolve(&mut by_hash).await.unwrap();
        assert_eq!(by_hash["query"], q);
    }

    #[tokio::test]
    async fn a_hash_that_is_not_the_querys_is_refused_and_not_stored() {
        let pq = PersistedQueries::new(1 << 20);
        let hash = "a".repeat(64);
        let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
        let mut lie = params(json!({"query": "{ viewer { email } }", "extensions": ext}));
        assert!(matches!(
            pq.resolve(&mut lie).await,
            Err(PersistedError::Invalid(_))
        ));
        let mut by_hash = params(json!({"extensions": ext}));
        assert_eq!(
            pq.resolve(&mut by_hash).await,
            Err(PersistedError::NotFound)
        );
        let off = PersistedQueries::new(0);
        assert_eq!(
            off.resolve(&mut by_hash).await,
            Err(PersistedError::NotSupported)
        );
    }
}
