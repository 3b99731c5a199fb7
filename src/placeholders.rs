//! `{{name}}` placeholders in JSON documents (pure): finding them, and substituting them.
//! Templates fill them from their variables when instantiated; the simulator fills a step's
//! static input from the workflow input.
use serde_json::Value;

/// Each `{{…}}` in a string: its byte range and the name inside, trimmed.
fn spans(s: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = s[from..].find("{{").map(|i| from + i) {
        let Some(len) = s[start + 2..].find("}}") else {
            break;
        };
        let end = start + 2 + len + 2;
        out.push((start, end, s[start + 2..start + 2 + len].trim()));
        from = end;
    }
    out
}

/// Every placeholder in a JSON document, with the path where it appears.
pub fn placeholders(doc: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match doc {
        Value::String(s) => {
            for (_, _, name) in spans(s) {
                out.push((name.to_string(), path.to_string()));
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| placeholders(v, &format!("{path}[{i}]"), out)),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| placeholders(v, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// Substitutes placeholders through `lookup`: a string that is exactly one placeholder takes
/// the value itself (keeping its type); placeholders inside longer strings are interpolated
/// as text. A placeholder `lookup` does not know is left as it is.
pub fn substitute(doc: &Value, lookup: &dyn Fn(&str) -> Option<Value>) -> Value {
    match doc {
        Value::String(s) => {
            let found = spans(s);
            if let [(start, end, name)] = found[..]
                && s[..start].trim().is_empty()
                && s[end..].trim().is_empty()
                && let Some(v) = lookup(name)
            {
                return v;
            }
            let mut out = String::with_capacity(s.len());
            let mut last = 0;
            for (start, end, name) in found {
                out.push_str(&s[last..start]);
                match lookup(name) {
                    Some(Value::String(x)) => out.push_str(&x),
                    Some(other) => out.push_str(&other.to_string()),
                    None => out.push_str(&s[start..end]),
                }
                last = end;
            }
            out.push_str(&s[last..]);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, lookup)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_placeholders_keep_their_type_and_inner_ones_interpolate() {
        let vars = |n: &str| match n {
            "n" => Some(json!(5)),
            "who" => Some(json!("Ann")),
            _ => None,
        };
        let doc = json!({"a": "{{n}}", "b": " {{ n }} ", "c": "Hi {{who}}, {{n}} left {{x}}", "d": ["{{x}}", 1]});
        let out = substitute(&doc, &vars);
        assert_eq!(
            out,
            json!({"a": 5, "b": 5, "c": "Hi Ann, 5 left {{x}}", "d": ["{{x}}", 1]})
        );
        let mut found = Vec::new();
        placeholders(&doc, "doc", &mut found);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["n", "n", "who", "n", "x", "x"]);
        assert_eq!(found[5].1, "doc.d[0]");
    }
}
