//! The condition language: MongoDB-style query documents such as
//! `{"amount": {"$gt": 10000}, "region": {"$in": ["EU", "UK"]}}`.
//!
//! A condition is parsed once into a typed [`Cond`] (at save time, so errors reach the author
//! with the JSON path of the offending part), then evaluated against input documents, or
//! explored symbolically (see [`symbolic`]).
//!
//! # Semantics (MongoDB's, with the deviations listed last)
//! - `{"f": v}` is an implicit `{"f": {"$eq": v}}`; several fields in one document are ANDed,
//!   and so are several operators on one field.
//! - Dotted paths reach into nested objects (`customer.tier`). A numeric component indexes an
//!   array (`items.0.sku`); otherwise a path crosses arrays of objects element by element.
//! - A field holding an array matches when the array itself or any element matches
//!   (`{"tags": "vip"}` matches `{"tags": ["new", "vip"]}`).
//! - Comparisons never cross types: a number compared with a string is false, not an error.
//!   Numbers compare by value (`1` equals `1.0`), strings by code point, booleans false < true.
//! - A missing field fails `$eq`, `$gt`, `$gte`, `$lt`, `$lte`, `$in` and `$regex`, and passes
//!   `$ne` and `$nin` (they are the negations of `$eq` and `$in`).
//! - `null` is equal to null and to a missing field: `{"f": null}` matches both, and
//!   `{"f": {"$ne": null}}` matches only documents where `f` is present and not null.
//! - `$exists: true` matches a present field, even one holding null.
//! - `$regex` matches strings (or arrays with a matching string) only; `$options` takes `i`
//!   (case-insensitive), `m`, `s` and `x`.
//! - `$not` applies to a field's operator expression or a regex, and matches whatever the
//!   expression does not, including documents that lack the field.
//! - `$and`, `$or` and `$nor` take a non-empty list of conditions; `{}` matches everything.
//!
//! Deviations, all stricter or simpler than MongoDB:
//! - `$gt`, `$gte`, `$lt` and `$lte` take a number, a string or a boolean; an object, array or
//!   null operand is rejected when the condition is saved.
//! - Objects compare equal regardless of key order (JSON objects are unordered).
//! - A top-level `$not` is rejected, as in MongoDB; use `$nor` with one element.
pub mod symbolic;

use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A parsed condition.
#[derive(Clone, Debug)]
pub enum Cond {
    /// `{}`: always true.
    True,
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Nor(Vec<Cond>),
    Field {
        path: String,
        op: FieldOp,
    },
}

/// One operator applied to a field.
#[derive(Clone, Debug)]
pub enum FieldOp {
    Eq(Value),
    Ne(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Regex(Box<Regex>),
    /// Several operators on one field, all of which must hold.
    All(Vec<FieldOp>),
    Not(Box<FieldOp>),
}

/// A parse error with the JSON path of the offending part, such as `$.amount.$gt`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message} (at {path})")]
pub struct ParseError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn child(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

/// Parses a condition document.
pub fn parse(doc: &Value) -> Result<Cond, ParseError> {
    parse_at(doc, "$")
}

fn parse_at(doc: &Value, path: &str) -> Result<Cond, ParseError> {
    let obj = doc.as_object().ok_or_else(|| {
        err(
            path,
            "a condition must be an object such as {\"amount\": {\"$gt\": 100}}",
        )
    })?;
    let mut parts = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let p = child(path, k);
        let part = match k.as_str() {
            "$and" | "$or" | "$nor" => {
                let list = v
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| err(&p, format!("{k} needs a non-empty list of conditions")))?;
                let subs = list
                    .iter()
                    .enumerate()
                    .map(|(i, c)| parse_at(c, &format!("{p}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                match k.as_str() {
                    "$and" => Cond::And(subs),
                    "$or" => Cond::Or(subs),
                    _ => Cond::Nor(subs),
                }
            }
            "$not" => {
                return Err(err(
                    &p,
                    "$not applies to a field, as in {\"amount\": {\"$not\": {\"$gt\": 5}}}; to negate a whole condition use {\"$nor\": [condition]}",
                ));
            }
            key if key.starts_with('$') => {
                return Err(err(&p, format!("unknown top-level operator {key}")));
            }
            "" => return Err(err(&p, "field names must not be empty")),
            field => {
                if field.split('.').any(str::is_empty) {
                    return Err(err(&p, format!("invalid field path {field:?}")));
                }
                Cond::Field {
                    path: field.to_string(),
                    op: parse_field(v, &p)?,
                }
            }
        };
        parts.push(part);
    }
    Ok(match parts.len() {
        0 => Cond::True,
        1 => parts.pop().unwrap_or(Cond::True),
        _ => Cond::And(parts),
    })
}

fn is_operator_doc(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('$')))
}

fn parse_field(v: &Value, path: &str) -> Result<FieldOp, ParseError> {
    match v.as_object() {
        Some(o) if o.keys().any(|k| k.starts_with('$')) => {
            if let Some(k) = o.keys().find(|k| !k.starts_with('$')) {
                return Err(err(
                    &child(path, k),
                    format!("cannot mix operators and plain field {k:?} in one expression"),
                ));
            }
            parse_ops(o, path)
        }
        // A plain value (even an object without operators) is an implicit $eq.
        _ => Ok(FieldOp::Eq(v.clone())),
    }
}

fn comparable(v: &Value, path: &str, op: &str) -> Result<Value, ParseError> {
    match v {
        Value::Number(_) | Value::String(_) | Value::Bool(_) => Ok(v.clone()),
        _ => Err(err(
            path,
            format!(
                "{op} needs a number, string or boolean, not {}",
                type_name(v)
            ),
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn build_regex(pattern: &str, options: &str, path: &str) -> Result<Regex, ParseError> {
    let mut flags = String::new();
    for c in options.chars() {
        match c {
            'i' | 'm' | 's' | 'x' => flags.push(c),
            other => {
                return Err(err(
                    path,
                    format!("unsupported $options flag {other:?} (use i, m, s or x)"),
                ));
            }
        }
    }
    let full = if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    };
    regex::RegexBuilder::new(&full)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| err(path, format!("invalid regular expression: {e}")))
}

fn parse_ops(o: &Map<String, Value>, path: &str) -> Result<FieldOp, ParseError> {
    let mut ops = Vec::new();
    let options = match o.get("$options") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(err(
                &child(path, "$options"),
                "$options must be a string such as \"i\"",
            ));
        }
    };
    if options.is_some() && !o.contains_key("$regex") {
        return Err(err(&child(path, "$options"), "$options needs a $regex"));
    }
    for (k, v) in o {
        let p = child(path, k);
        let op = match k.as_str() {
            "$eq" => FieldOp::Eq(v.clone()),
            "$ne" => FieldOp::Ne(v.clone()),
            "$gt" => FieldOp::Gt(comparable(v, &p, k)?),
            "$gte" => FieldOp::Gte(comparable(v, &p, k)?),
            "$lt" => FieldOp::Lt(comparable(v, &p, k)?),
            "$lte" => FieldOp::Lte(comparable(v, &p, k)?),
            "$in" | "$nin" => {
                let list = v
                    .as_array()
                    .ok_or_else(|| err(&p, format!("{k} needs a list of values")))?
                    .clone();
                if k == "$in" {
                    FieldOp::In(list)
                } else {
                    FieldOp::Nin(list)
                }
            }
            "$exists" => FieldOp::Exists(match v {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
                _ => return Err(err(&p, "$exists needs true or false")),
            }),
            "$regex" => {
                let pattern = v
                    .as_str()
                    .ok_or_else(|| err(&p, "$regex needs a string pattern"))?;
                FieldOp::Regex(Box::new(build_regex(pattern, options.unwrap_or(""), &p)?))
            }
            "$options" => continue,
            "$not" => {
                let inner = match v {
                    Value::Object(io) if is_operator_doc(v) => parse_ops(io, &p)?,
                    _ => {
                        return Err(err(
                            &p,
                            "$not needs an operator expression such as {\"$gt\": 5}",
                        ));
                    }
                };
                FieldOp::Not(Box::new(inner))
            }
            other => return Err(err(&p, format!("unknown operator {other}"))),
        };
        ops.push(op);
    }
    Ok(match ops.len() {
        1 => ops.pop().unwrap_or(FieldOp::All(vec![])),
        _ => FieldOp::All(ops),
    })
}

/// The values a dotted path reaches in a document (none when the field is missing).
pub fn resolve<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk(doc, &parts, &mut out);
    out
}

fn walk<'a>(v: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    let Some((head, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match v {
        Value::Object(m) => {
            if let Some(c) = m.get(*head) {
                walk(c, rest, out);
            }
        }
        Value::Array(items) => {
            if let Ok(i) = head.parse::<usize>() {
                if let Some(c) = items.get(i) {
                    walk(c, rest, out);
                }
            } else {
                for it in items.iter().filter(|it| it.is_object()) {
                    walk(it, path, out);
                }
            }
        }
        _ => {}
    }
}

/// Equality on JSON values: numbers by value, objects regardless of key order.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Orders two values of the same comparable type; `None` across types.
pub fn json_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// The candidate values to test: each resolved value, and each element of a resolved array.
fn leaves<'a>(found: &[&'a Value]) -> Vec<&'a Value> {
    let mut out = Vec::with_capacity(found.len());
    for v in found {
        out.push(*v);
        if let Value::Array(items) = v {
            out.extend(items.iter());
        }
    }
    out
}

fn eq_matches(found: &[&Value], want: &Value) -> bool {
    if want.is_null() && found.is_empty() {
        return true;
    }
    leaves(found).into_iter().any(|v| json_eq(v, want))
}

fn cmp_matches(found: &[&Value], want: &Value, ok: fn(Ordering) -> bool) -> bool {
    leaves(found)
        .into_iter()
        .any(|v| !v.is_array() && json_cmp(v, want).is_some_and(ok))
}

/// Whether a field operator holds for the values a path resolved to.
pub fn op_matches(op: &FieldOp, found: &[&Value]) -> bool {
    match op {
        FieldOp::Eq(w) => eq_matches(found, w),
        FieldOp::Ne(w) => !eq_matches(found, w),
        FieldOp::Gt(w) => cmp_matches(found, w, |o| o == Ordering::Greater),
        FieldOp::Gte(w) => cmp_matches(found, w, |o| o != Ordering::Less),
        FieldOp::Lt(w) => cmp_matches(found, w, |o| o == Ordering::Less),
        FieldOp::Lte(w) => cmp_matches(found, w, |o| o != Ordering::Greater),
        FieldOp::In(ws) => ws.iter().any(|w| eq_matches(found, w)),
        FieldOp::Nin(ws) => !ws.iter().any(|w| eq_matches(found, w)),
        FieldOp::Exists(b) => found.is_empty() != *b,
        FieldOp::Regex(r) => leaves(found)
            .into_iter()
            .any(|v| v.as_str().is_some_and(|s| r.is_match(s))),
        FieldOp::All(ops) => ops.iter().all(|o| op_matches(o, found)),
        FieldOp::Not(inner) => !op_matches(inner, found),
    }
}

impl Cond {
    /// Evaluates the condition against a document.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Cond::True => true,
            Cond::And(cs) => cs.iter().all(|c| c.matches(doc)),
            Cond::Or(cs) => cs.iter().any(|c| c.matches(doc)),
            Cond::Nor(cs) => !cs.iter().any(|c| c.matches(doc)),
            Cond::Field { path, op } => op_matches(op, &resolve(doc, path)),
        }
    }

    /// Evaluates the condition against a document given as an object's map (no copy).
    pub fn matches_map(&self, doc: &Map<String, Value>) -> bool {
        match self {
            Cond::True => true,
            Cond::And(cs) => cs.iter().all(|c| c.matches_map(doc)),
            Cond::Or(cs) => cs.iter().any(|c| c.matches_map(doc)),
            Cond::Nor(cs) => !cs.iter().any(|c| c.matches_map(doc)),
            Cond::Field { path, op } => {
                let (head, rest) = path.split_once('.').unwrap_or((path.as_str(), ""));
                let found: Vec<&Value> = match doc.get(head) {
                    None => vec![],
                    Some(v) if rest.is_empty() => vec![v],
                    Some(v) => resolve(v, rest),
                };
                op_matches(op, &found)
            }
        }
    }

    /// Every field path the condition reads.
    pub fn fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut Vec<String>) {
        match self {
            Cond::True => {}
            Cond::And(cs) | Cond::Or(cs) | Cond::Nor(cs) => {
                cs.iter().for_each(|c| c.collect_fields(out))
            }
            Cond::Field { path, .. } => {
                if !out.contains(path) {
                    out.push(path.clone());
                }
            }
        }
    }

    /// Evaluates, and lists each field comparison with the actual value it saw.
    pub fn explain(&self, doc: &Value) -> (bool, Vec<Comparison>) {
        let mut out = Vec::new();
        self.collect_comparisons(doc, &mut out);
        (self.matches(doc), out)
    }

    fn collect_comparisons(&self, doc: &Value, out: &mut Vec<Comparison>) {
        match self {
            Cond::True => {}
            Cond::And(cs) | Cond::Or(cs) | Cond::Nor(cs) => {
                cs.iter().for_each(|c| c.collect_comparisons(doc, out))
            }
            Cond::Field { path, op } => {
                let found = resolve(doc, path);
                let actual = match found.as_slice() {
                    [] => None,
                    [one] => Some((*one).clone()),
                    many => Some(Value::Array(many.iter().map(|v| (*v).clone()).collect())),
                };
                out.push(Comparison {
                    field: path.clone(),
                    operator: op.describe(),
                    actual,
                    result: op_matches(op, &found),
                });
            }
        }
    }
}

impl FieldOp {
    /// The operator as a JSON document, such as `{"$gt": 10000}`.
    pub fn describe(&self) -> Value {
        use serde_json::json;
        match self {
            FieldOp::Eq(v) => json!({"$eq": v}),
            FieldOp::Ne(v) => json!({"$ne": v}),
            FieldOp::Gt(v) => json!({"$gt": v}),
            FieldOp::Gte(v) => json!({"$gte": v}),
            FieldOp::Lt(v) => json!({"$lt": v}),
            FieldOp::Lte(v) => json!({"$lte": v}),
            FieldOp::In(v) => json!({"$in": v}),
            FieldOp::Nin(v) => json!({"$nin": v}),
            FieldOp::Exists(b) => json!({"$exists": b}),
            FieldOp::Regex(r) => json!({"$regex": r.as_str()}),
            FieldOp::All(ops) => {
                let mut m = Map::new();
                for o in ops {
                    if let Value::Object(part) = o.describe() {
                        m.extend(part);
                    }
                }
                Value::Object(m)
            }
            FieldOp::Not(inner) => json!({"$not": inner.describe()}),
        }
    }
}

/// One field comparison made while evaluating a condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub field: String,
    pub operator: Value,
    /// What the input held at that path; absent when the field is missing.
    pub actual: Option<Value>,
    pub result: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(c: Value, d: Value) -> bool {
        parse(&c).unwrap().matches(&d)
    }

    #[test]
    fn basics() {
        assert!(m(
            json!({"amount": {"$gt": 10000}}),
            json!({"amount": 10001})
        ));
        assert!(!m(
            json!({"amount": {"$gt": 10000}}),
            json!({"amount": 10000})
        ));
        assert!(!m(json!({"amount": {"$gt": 10000}}), json!({})));
        assert!(m(json!({"amount": {"$ne": 5}}), json!({})));
        assert!(!m(json!({"amount": {"$gt": 1}}), json!({"amount": "5"})));
        assert!(m(json!({"tags": "vip"}), json!({"tags": ["a", "vip"]})));
        assert!(m(
            json!({"customer.tier": "gold"}),
            json!({"customer": {"tier": "gold"}})
        ));
        assert!(m(
            json!({"name": {"$regex": "^ac", "$options": "i"}}),
            json!({"name": "ACME"})
        ));
    }

    #[test]
    fn errors_carry_paths() {
        let e = parse(&json!({"amount": {"$gtx": 1}})).unwrap_err();
        assert_eq!(e.path, "$.amount.$gtx");
        let e = parse(&json!({"$or": [{"a": 1}, {"b": {"$gt": {"x": 1}}}]})).unwrap_err();
        assert_eq!(e.path, "$.$or[1].b.$gt");
        let e = parse(&json!({"n": {"$regex": "("}})).unwrap_err();
        assert!(e.message.contains("invalid regular expression"), "{e}");
    }

    #[test]
    fn explain_reports_actual_operands() {
        let c = parse(&json!({"amount": {"$gt": 10000}, "region": "EU"})).unwrap();
        let (ok, cmp) = c.explain(&json!({"amount": 20000, "region": "US"}));
        assert!(!ok);
        assert_eq!(cmp.len(), 2);
        assert_eq!(cmp[0].actual, Some(json!(20000)));
        assert!(cmp[0].result);
        assert!(!cmp[1].result);
    }
}
