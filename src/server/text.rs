//! Text that both stores accept alike. PostgreSQL cannot store the NUL character (U+0000) in
//! `text` or `jsonb`; SQLite can. So that the two stores never disagree, and no write fails
//! half-way with a database error, a request that carries NUL anywhere (a variable, an inline
//! argument, a JSON key or value) is refused before it runs, with BAD_USER_INPUT naming where.
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, Value, Variables};

/// The first variable that holds NUL.
pub fn check_variables(variables: &Variables) -> Result<(), ServerError> {
    for (name, v) in variables.iter() {
        if let Some(at) = nul_in(v, format!("${name}")) {
            return Err(refused(&format!("variable {at}")));
        }
    }
    Ok(())
}

/// The first place in the document's arguments that holds NUL.
pub fn check_document(doc: &ExecutableDocument) -> Result<(), ServerError> {
    let mut sets: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    sets.extend(doc.fragments.values().map(|f| &f.node.selection_set.node));
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let field = &f.node.name.node;
                    for (arg, v) in &f.node.arguments {
                        let inline = v.node.clone().into_const_with(|_| Ok::<_, ()>(Value::Null));
                        if let Some(at) = inline.ok().and_then(|v| nul_in(&v, arg.node.to_string()))
                        {
                            return Err(refused(&format!("argument {at} of {field}")));
                        }
                    }
                    sets.push(&f.node.selection_set.node);
                }
                Selection::InlineFragment(i) => sets.push(&i.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    Ok(())
}

/// The path (from `at`) of the first string or object key in `v` that holds NUL.
fn nul_in(v: &Value, at: String) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_in(x, format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, x): (&Name, &Value)| {
            if k.contains('\0') {
                Some(format!("{at} (a key)"))
            } else {
                nul_in(x, format!("{at}.{k}"))
            }
        }),
        _ => None,
    }
}

fn refused(at: &str) -> ServerError {
    let mut e = ServerError::new(
        format!(
            "{at} holds a NUL character (U+0000), which text in this service cannot hold; remove it"
        ),
        None,
    );
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", "BAD_USER_INPUT");
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, vars: serde_json::Value) -> Result<(), String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let vars = Variables::from_json(vars);
        check_variables(&vars)
            .and_then(|()| check_document(&doc))
            .map_err(|e| e.message)
    }

    #[test]
    fn nul_is_found_in_variables_arguments_keys_and_lists() {
        let q = "mutation($input: In!) { create(input: $input) { id } }";
        let e = run(
            q,
            serde_json::json!({"input": {"steps": [{"name": "a"}, {"name": "b\u{0}"}]}}),
        );
        assert!(
            e.unwrap_err()
                .starts_with("variable $input.steps[1].name holds")
        );
        let e = run(q, serde_json::json!({"input": {"data": {"k\u{0}": 1}}}));
        assert!(
            e.unwrap_err()
                .starts_with("variable $input.data (a key) holds")
        );
        let e = run(
            r#"{ processTemplate(name: "x\u0000") { id } }"#,
            serde_json::json!({}),
        );
        assert!(
            e.unwrap_err()
                .starts_with("argument name of processTemplate holds")
        );
        let e = run(
            r#"query { ...F } fragment F on Query { workflows(filter: {search: ["\u0000"]}) { id } }"#,
            serde_json::json!({}),
        );
        assert!(
            e.unwrap_err()
                .starts_with("argument filter.search[0] of workflows")
        );
        assert_eq!(
            run(q, serde_json::json!({"input": {"name": "é ☃ \u{202e}"}})),
            Ok(())
        );
    }
}
