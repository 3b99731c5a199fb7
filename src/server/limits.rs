//! What one document may ask for. Depth and aliases are measured on the parsed document;
//! introspection (`__schema`, `__type`) is measured on its own, so the standard introspection
//! query passes while a hostile one (deep `ofType` chains, `fields` inside `fields`) is still
//! refused. Complexity is counted as async-graphql's validation counts it (one per field and
//! its selection, `__typename` not counted, fragments counted where they are spread), but on
//! the document, before validation. A refusal names the limit, its setting and how far over
//! the document is: `extensions.code` is `LIMIT_EXCEEDED`.
use crate::config::Limits;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError};
use std::collections::{HashMap, HashSet};

/// Deepest nesting inside `__schema`/`__type`, counting that field. graphql-js 16's full
/// introspection query (every option on) measures 15 (its `TypeRef` fragment nests `ofType`
/// seven times under `fields { args { type } }`); later versions nest deeper, so this leaves
/// room.
pub const INTROSPECTION_MAX_DEPTH: u64 = 20;
/// Most list fields (`types`, `fields`, `args`, …) nested inside one introspection subtree:
/// the standard query nests three (`types { fields { args } }`). More multiplies the answer
/// (`fields { type { fields { … } } }`) without adding anything a tool needs.
pub const INTROSPECTION_MAX_LISTS: u64 = 3;

const INTROSPECTION_LISTS: [&str; 8] = [
    "types",
    "fields",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "args",
    "directives",
];

/// What a document asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// Deepest field nesting outside introspection.
    pub depth: u64,
    /// Deepest nesting inside `__schema`/`__type`, counting that field.
    pub introspection_depth: u64,
    /// Most introspection list fields nested in one another.
    pub introspection_lists: u64,
}

impl Measure {
    fn max(self, o: Measure) -> Measure {
        Measure {
            depth: self.depth.max(o.depth),
            introspection_depth: self.introspection_depth.max(o.introspection_depth),
            introspection_lists: self.introspection_lists.max(o.introspection_lists),
        }
    }
}

/// Measures every operation of a document. Fragments are measured once each (a document of
/// fragments that spread each other twice costs linear time), and a fragment cycle, which
/// validation refuses anyway, counts as empty.
pub fn measure(doc: &ExecutableDocument) -> Measure {
    let mut w = Walker {
        doc,
        memo: HashMap::new(),
        visiting: HashSet::new(),
    };
    doc.operations
        .iter()
        .map(|(_, op)| w.set(&op.node.selection_set.node, false))
        .fold(Measure::default(), Measure::max)
}

/// Aliases in the document as written (operations and fragments).
pub fn aliases(doc: &ExecutableDocument) -> u64 {
    fn count(set: &SelectionSet) -> u64 {
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => {
                    u64::from(f.node.alias.is_some()) + count(&f.node.selection_set.node)
                }
                Selection::InlineFragment(i) => count(&i.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let ops: u64 = doc
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node))
        .sum();
    let fragments: u64 = doc
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node))
        .sum();
    ops + fragments
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<(Name, bool), Measure>,
    visiting: HashSet<(Name, bool)>,
}

impl Walker<'_> {
    fn set(&mut self, set: &SelectionSet, intro: bool) -> Measure {
        let mut m = Measure::default();
        for s in &set.items {
            let one = match &s.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    let sub = &f.node.selection_set.node;
                    if intro || name == "__schema" || name == "__type" {
                        let inner = self.set(sub, true);
                        let list = u64::from(INTROSPECTION_LISTS.contains(&name));
                        Measure {
                            depth: 0,
                            introspection_depth: inner.introspection_depth + 1,
                            introspection_lists: inner.introspection_lists + list,
                        }
                    } else {
                        let inner = self.set(sub, false);
                        Measure {
                            depth: inner.depth + 1,
                            ..inner
                        }
                    }
                }
                Selection::InlineFragment(i) => self.set(&i.node.selection_set.node, intro),
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node, intro)
                }
            };
            m = m.max(one);
        }
        m
    }

    fn fragment(&mut self, name: &Name, intro: bool) -> Measure {
        let key = (name.clone(), intro);
        if let Some(m) = self.memo.get(&key) {
            return *m;
        }
        let Some(def) = self.doc.fragments.get(name) else {
            return Measure::default();
        };
        if !self.visiting.insert(key.clone()) {
            return Measure::default();
        }
        let m = self.set(&def.node.selection_set.node, intro);
        self.visiting.remove(&key);
        self.memo.insert(key, m);
        m
    }
}

/// The error for a document over a limit.
pub fn exceeded(limit: &str, setting: Option<&str>, max: u64, actual: u64) -> ServerError {
    let how = match setting {
        Some(s) => format!("the limit of {max} (setting {s})"),
        None => format!("the limit of {max}"),
    };
    let mut e = ServerError::new(
        format!("query {limit} is {actual}, over {how}, by {}", actual - max),
        None,
    );
    let ext = e.extensions.get_or_insert_with(Default::default);
    ext.set("code", "LIMIT_EXCEEDED");
    ext.set("limit", limit);
    ext.set("max", max);
    ext.set("actual", actual);
    if let Some(s) = setting {
        ext.set("setting", s);
    }
    e
}

/// Checks the limits measured on the document (complexity is checked after validation).
pub fn check(doc: &ExecutableDocument, limits: &Limits) -> Result<(), ServerError> {
    let m = measure(doc);
    let checks = [
        ("depth", Some("GRAPHQL_MAX_DEPTH"), limits.depth, m.depth),
        (
            "introspection depth",
            None,
            INTROSPECTION_MAX_DEPTH,
            m.introspection_depth,
        ),
        (
            "introspection list nesting",
            None,
            INTROSPECTION_MAX_LISTS,
            m.introspection_lists,
        ),
        (
            "alias count",
            Some("GRAPHQL_MAX_ALIASES"),
            limits.aliases,
            aliases(doc),
        ),
    ];
    for (limit, setting, max, actual) in checks {
        if actual > max {
            return Err(exceeded(limit, setting, max, actual));
        }
    }
    Ok(())
}

/// Refuses a document whose complexity is over the limit.
pub fn check_complexity(doc: &ExecutableDocument, limits: &Limits) -> Result<(), ServerError> {
    let (max, actual) = (limits.complexity, complexity(doc));
    if actual > max {
        return Err(exceeded(
            "complexity",
            Some("GRAPHQL_MAX_COMPLEXITY"),
            max,
            actual,
        ));
    }
    Ok(())
}

/// The document's complexity: over every operation, each field counts one plus its
/// selection's complexity (`__typename` counts nothing), and a fragment counts where it is
/// spread. Each fragment is counted once (so fan-out costs linear time); a cycle, which
/// validation refuses anyway, counts nothing, and the sum saturates.
pub fn complexity(doc: &ExecutableDocument) -> u64 {
    let mut c = Complexity {
        doc,
        memo: HashMap::new(),
        visiting: HashSet::new(),
    };
    doc.operations.iter().fold(0, |n, (_, op)| {
        n.saturating_add(c.set(&op.node.selection_set.node))
    })
}

struct Complexity<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<Name, u64>,
    visiting: HashSet<Name>,
}

impl Complexity<'_> {
    fn set(&mut self, set: &SelectionSet) -> u64 {
        set.items.iter().fold(0, |n, s| {
            let one = match &s.node {
                Selection::Field(f) if f.node.name.node == "__typename" => 0,
                Selection::Field(f) => self.set(&f.node.selection_set.node).saturating_add(1),
                Selection::InlineFragment(i) => self.set(&i.node.selection_set.node),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            };
            n.saturating_add(one)
        })
    }

    fn fragment(&mut self, name: &Name) -> u64 {
        if let Some(n) = self.memo.get(name) {
            return *n;
        }
        let Some(def) = self.doc.fragments.get(name) else {
            return 0;
        };
        if !self.visiting.insert(name.clone()) {
            return 0;
        }
        let n = self.set(&def.node.selection_set.node);
        self.visiting.remove(name);
        self.memo.insert(name.clone(), n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn m(q: &str) -> Measure {
        measure(&parse_query(q).unwrap())
    }

    #[test]
    fn depth_counts_fields_and_fragments_but_not_introspection() {
        assert_eq!(m("{ a { b { c } } }").depth, 3);
        assert_eq!(
            m("query { a { ...F } } fragment F on T { b { c { d } } }").depth,
            4
        );
        let intro = m("{ __schema { types { fields { type { ofType { name } } } } } a }");
        assert_eq!(intro.depth, 1);
        assert_eq!(intro.introspection_depth, 6);
        assert_eq!(intro.introspection_lists, 2);
    }

    #[test]
    fn fields_inside_fields_count_as_nested_lists() {
        let q =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert_eq!(m(q).introspection_lists, 4);
        let err = check(&parse_query(q).unwrap(), &Limits::default()).unwrap_err();
        assert!(
            err.message.contains("introspection list nesting is 4"),
            "{}",
            err.message
        );
    }

    /// `levels` fragments, each spreading the next twice: 2^levels fields when inlined.
    fn fan_out(levels: usize) -> String {
        let mut q = String::from("{ ...F0 }");
        for i in 0..levels {
            q.push_str(&format!(
                " fragment F{i} on Q {{ a: x {{ ...F{n} }} b: x {{ ...F{n} }} }}",
                n = i + 1
            ));
        }
        q.push_str(&format!(" fragment F{levels} on Q {{ z }}"));
        q
    }

    #[test]
    fn fragment_cycles_and_fan_out_terminate() {
        assert_eq!(m("{ ...A } fragment A on Q { a { ...A } }").depth, 1);
        let doc = parse_query(fan_out(40)).unwrap();
        assert_eq!(measure(&doc).depth, 41);
        assert_eq!(aliases(&doc), 80);
    }

    /// As async-graphql's validation counts it: fields and their selections, fragments where
    /// they are spread, every operation; `__typename` free.
    #[test]
    fn complexity_counts_fields_where_they_are_spread() {
        let c = |q: &str| complexity(&parse_query(q).unwrap());
        assert_eq!(c("{ a { b c } d __typename }"), 4);
        assert_eq!(
            c("{ a { ...F } b { ...F } } fragment F on T { x y { z } }"),
            8
        );
        assert_eq!(c("query A { a } query B { b { c } }"), 3);
        assert_eq!(c("{ ... on Q { a { b } } }"), 2);
        assert_eq!(c("{ ...A } fragment A on Q { a { ...A } }"), 1);
        assert_eq!(c(&fan_out(3)), 2 * (1 + 2 * (1 + 2 * (1 + 1))));
        assert_eq!(c(&fan_out(70)), u64::MAX);
    }

    #[test]
    fn a_refusal_names_its_limit_and_how_far_over() {
        let limits = Limits {
            depth: 2,
            ..Limits::default()
        };
        let err = check(&parse_query("{ a { b { c { d } } } }").unwrap(), &limits).unwrap_err();
        assert_eq!(
            err.message,
            "query depth is 4, over the limit of 2 (setting GRAPHQL_MAX_DEPTH), by 2"
        );
        let ext = err.extensions.unwrap();
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("LIMIT_EXCEEDED"))
        );
        assert_eq!(ext.get("actual"), Some(&async_graphql::Value::from(4u64)));
    }
}
