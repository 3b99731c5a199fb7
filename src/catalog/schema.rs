//! JSON Schema checks (pure): is a document a valid schema, and where does an instance
//! violate one.
use serde::Serialize;
use serde_json::Value;

/// One place where an instance breaks its schema.
#[derive(Clone, Debug, PartialEq, Serialize, async_graphql::SimpleObject)]
pub struct SchemaViolation {
    /// JSON pointer into the instance, `""` for the root.
    pub pointer: String,
    /// JSON pointer into the schema, to the keyword that failed.
    pub schema_path: String,
    pub message: String,
}

/// Checks that `schema` is itself a valid JSON Schema (against its meta-schema) and that it
/// compiles (every `$ref` resolvable without network access).
pub fn check_schema(schema: &Value) -> Result<(), String> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err("a JSON Schema must be an object or a boolean".into());
    }
    jsonschema::meta::validate(schema).map_err(|e| format!("{} (at {})", e, e.instance_path()))?;
    jsonschema::validator_for(schema).map_err(|e| e.to_string())?;
    Ok(())
}

/// Every violation of `schema` by `instance`, in document order.
pub fn violations(schema: &Value, instance: &Value) -> Result<Vec<SchemaViolation>, String> {
    let v = jsonschema::validator_for(schema).map_err(|e| e.to_string())?;
    Ok(v.iter_errors(instance)
        .map(|e| SchemaViolation {
            pointer: e.instance_path().to_string(),
            schema_path: e.schema_path().to_string(),
            message: e.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_invalid_schemas() {
        assert!(check_schema(&json!({"type": "object"})).is_ok());
        assert!(check_schema(&json!({"type": "banana"})).is_err());
        assert!(check_schema(&json!({"minLength": -1})).is_err());
        assert!(check_schema(&json!(42)).is_err());
    }

    #[test]
    fn reports_pointers() {
        let schema = json!({
            "type": "object",
            "required": ["to"],
            "properties": {"to": {"type": "string"}, "cc": {"type": "array", "items": {"type": "string"}}}
        });
        let errs = violations(&schema, &json!({"to": 1, "cc": ["a", 2]})).unwrap();
        let pointers: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert!(pointers.contains(&"/to"), "{errs:?}");
        assert!(pointers.contains(&"/cc/1"), "{errs:?}");
        assert!(violations(&schema, &json!({"to": "x"})).unwrap().is_empty());
    }
}
