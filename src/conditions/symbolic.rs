//! Symbolic exploration of the input space.
//!
//! Every field a workflow's conditions read gets a finite list of *cells* on which every
//! operator used on it is constant: for numbers, the points named by the conditions and the
//! open intervals between them (k distinct thresholds give 2k+1 cells); for strings, each named
//! value plus "any other string"; for booleans, true and false; plus null and "missing" where
//! they matter. A *region* ([`Region`]) is a product of cell sets, one per field, and
//! [`Space::split`] divides a region into the parts where a condition is true and where it is
//! false, as lists of disjoint regions. Conditions on one field therefore partition without
//! blow-up: k thresholds on `amount` give k+1 regions, not 2^k.
//!
//! `$regex` on a string field is not decided by the cells: on "any other string" it counts as
//! both true and false, and paths that depend on it are marked inexact.
use super::{Cond, FieldOp, op_matches};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// A set of cell indexes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bits(Vec<u64>);

impl Bits {
    fn empty(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64).max(1)])
    }
    fn full(n: usize) -> Self {
        let mut b = Self::empty(n);
        for i in 0..n {
            b.set(i);
        }
        b
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    pub fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn and(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a & b).collect())
    }
    fn or(&self, o: &Bits) -> Bits {
        Bits(self.0.iter().zip(&o.0).map(|(a, b)| a | b).collect())
    }
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    pub fn ones(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        (0..n).filter(|i| self.has(*i))
    }
}

/// What one cell stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum CellKind {
    Missing,
    Null,
    /// The open interval (lo, hi); `None` is unbounded.
    Between(Option<f64>, Option<f64>),
    Point(f64),
    /// A string named by a condition.
    Str(String),
    /// Any string no condition names.
    OtherString,
    Bool(bool),
    /// Present, with a value no condition compares (only `$exists` reads the field).
    Present,
}

#[derive(Clone, Debug)]
pub struct Cell {
    pub kind: CellKind,
    /// A concrete value in the cell; `None` for a missing field.
    pub example: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct FieldCells {
    pub path: String,
    pub cells: Vec<Cell>,
}

/// A product of cell sets, one per field (indexed like [`Space::fields`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region(pub Vec<Bits>);

impl Region {
    pub fn is_empty(&self) -> bool {
        self.0.iter().any(Bits::is_empty)
    }
}

/// The cells of every field read by a set of conditions.
#[derive(Clone, Debug)]
pub struct Space {
    pub fields: Vec<FieldCells>,
    /// Splits performed so far; exploration stops when it passes the budget.
    pub work: usize,
    /// Whether some split was undecided (a regex on an unnamed string).
    pub inexact: bool,
}

#[derive(Default)]
struct Operands {
    numbers: Vec<f64>,
    strings: BTreeSet<String>,
    bools: bool,
    null: bool,
    regex: bool,
    any_value: bool,
}

fn collect_operand(v: &Value, o: &mut Operands) {
    match v {
        Value::Number(n) => o.numbers.extend(n.as_f64()),
        Value::String(s) => {
            o.strings.insert(s.clone());
        }
        Value::Bool(_) => o.bools = true,
        Value::Null => o.null = true,
        Value::Array(_) | Value::Object(_) => o.any_value = true,
    }
}

fn collect_op(op: &FieldOp, o: &mut Operands) {
    match op {
        FieldOp::Eq(v)
        | FieldOp::Ne(v)
        | FieldOp::Gt(v)
        | FieldOp::Gte(v)
        | FieldOp::Lt(v)
        | FieldOp::Lte(v) => collect_operand(v, o),
        FieldOp::In(vs) | FieldOp::Nin(vs) => vs.iter().for_each(|v| collect_operand(v, o)),
        FieldOp::Exists(_) => {}
        FieldOp::Regex(_) => o.regex = true,
        FieldOp::All(ops) => ops.iter().for_each(|x| collect_op(x, o)),
        FieldOp::Not(x) => collect_op(x, o),
    }
}

fn collect(c: &Cond, fields: &mut Vec<(String, Operands)>) {
    match c {
        Cond::True => {}
        Cond::And(cs) | Cond::Or(cs) | Cond::Nor(cs) => cs.iter().for_each(|x| collect(x, fields)),
        Cond::Field { path, op } => {
            let i = match fields.iter().position(|(p, _)| p == path) {
                Some(i) => i,
                None => {
                    fields.push((path.clone(), Operands::default()));
                    fields.len() - 1
                }
            };
            collect_op(op, &mut fields[i].1);
        }
    }
}

/// A friendly number strictly between `lo` and `hi` (either may be unbounded).
fn example_between(lo: Option<f64>, hi: Option<f64>) -> f64 {
    match (lo, hi) {
        (None, None) => 0.0,
        (Some(l), None) => l.floor() + 1.0,
        (None, Some(h)) => h.ceil() - 1.0,
        (Some(l), Some(h)) => {
            let c = l.floor() + 1.0;
            if c < h { c } else { (l + h) / 2.0 }
        }
    }
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// The JSON type the input schema gives a top-level or nested property, and whether it is
/// required (present in every valid input).
fn schema_info(schema: Option<&Value>, path: &str) -> (Option<String>, bool) {
    let Some(mut s) = schema else {
        return (None, false);
    };
    let mut required = true;
    for part in path.split('.') {
        let req = s
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x == part));
        required &= req;
        match s.get("properties").and_then(|p| p.get(part)) {
            Some(next) => s = next,
            None => return (None, false),
        }
    }
    let ty = s.get("type").and_then(Value::as_str).map(str::to_string);
    (ty, required)
}

/// The cells of one field: missing (unless required), null, the intervals and points its
/// numbers cut, its strings and any other string, both booleans, and "present" for a value of
/// any other kind; only kinds the schema's type allows.
fn cells_for(o: &Operands, ty: Option<&str>, required: bool) -> Vec<Cell> {
    let allow = |t: &str| match ty {
        None => true,
        Some("integer") => t == "number",
        Some(s) => s == t,
    };
    let cell = |kind, example| Cell { kind, example };
    let mut cells = Vec::new();
    if !required {
        cells.push(cell(CellKind::Missing, None));
    }
    if o.null && allow("null") {
        cells.push(cell(CellKind::Null, Some(Value::Null)));
    }
    let mut nums = o.numbers.clone();
    nums.sort_by(f64::total_cmp);
    nums.dedup();
    let numeric = !nums.is_empty() || ty == Some("number") || ty == Some("integer");
    if numeric && allow("number") {
        let mut lo = None;
        for &t in &nums {
            let between = number(example_between(lo, Some(t)));
            cells.push(cell(CellKind::Between(lo, Some(t)), Some(between)));
            cells.push(cell(CellKind::Point(t), Some(number(t))));
            lo = Some(t);
        }
        let above = number(example_between(lo, None));
        cells.push(cell(CellKind::Between(lo, None), Some(above)));
    }
    let stringy = !o.strings.is_empty() || o.regex || ty == Some("string");
    if stringy && allow("string") {
        for s in &o.strings {
            cells.push(cell(CellKind::Str(s.clone()), Some(json!(s))));
        }
        let mut other = "other".to_string();
        while o.strings.contains(&other) {
            other.push('_');
        }
        cells.push(cell(CellKind::OtherString, Some(json!(other))));
    }
    if (o.bools || ty == Some("boolean")) && allow("boolean") {
        cells.push(cell(CellKind::Bool(false), Some(json!(false))));
        cells.push(cell(CellKind::Bool(true), Some(json!(true))));
    }
    if cells.iter().all(|c| c.kind == CellKind::Missing) || o.any_value {
        cells.push(cell(CellKind::Present, Some(json!({}))));
    }
    cells
}

impl Space {
    /// Builds the cells for every field the conditions read. The workflow's input schema, when
    /// given, narrows them: a required field is never missing, and a typed field only takes
    /// values of its type.
    pub fn new<'a>(
        conds: impl IntoIterator<Item = &'a Cond>,
        input_schema: Option<&Value>,
    ) -> Self {
        let mut ops: Vec<(String, Operands)> = Vec::new();
        for c in conds {
            collect(c, &mut ops);
        }
        let fields = ops
            .into_iter()
            .map(|(path, o)| {
                let (ty, required) = schema_info(input_schema, &path);
                let cells = cells_for(&o, ty.as_deref(), required);
                FieldCells { path, cells }
            })
            .collect();
        Space {
            fields,
            work: 0,
            inexact: false,
        }
    }

    /// The region holding every input.
    pub fn full(&self) -> Region {
        Region(
            self.fields
                .iter()
                .map(|f| Bits::full(f.cells.len()))
                .collect(),
        )
    }

    fn field_index(&self, path: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.path == path)
    }

    /// Which cells of a field satisfy an operator, and which do not (a cell may be in both
    /// when the operator is undecided on it).
    fn op_cells(&mut self, fi: usize, op: &FieldOp) -> (Bits, Bits) {
        let f = &self.fields[fi];
        let n = f.cells.len();
        let mut yes = Bits::empty(n);
        let mut no = Bits::empty(n);
        let mut undecided = false;
        for (i, c) in f.cells.iter().enumerate() {
            let found: Vec<&Value> = c.example.iter().collect();
            let decided = !(c.kind == CellKind::OtherString && op_has_regex(op));
            if !decided {
                undecided = true;
                yes.set(i);
                no.set(i);
            } else if op_matches(op, &found) {
                yes.set(i);
            } else {
                no.set(i);
            }
        }
        if undecided {
            self.inexact = true;
        }
        (yes, no)
    }

    /// Splits a region into the disjoint parts where `cond` holds and where it does not.
    pub fn split(&mut self, region: &Region, cond: &Cond) -> (Vec<Region>, Vec<Region>) {
        self.work += 1;
        match cond {
            Cond::True => (vec![region.clone()], vec![]),
            Cond::Field { path, op } => {
                let Some(fi) = self.field_index(path) else {
                    return (vec![region.clone()], vec![]);
                };
                let (yes, no) = self.op_cells(fi, op);
                let part = |bits: &Bits| {
                    let mut r = region.clone();
                    r.0[fi] = r.0[fi].and(bits);
                    (!r.is_empty()).then_some(r)
                };
                (
                    part(&yes).into_iter().collect(),
                    part(&no).into_iter().collect(),
                )
            }
            Cond::And(cs) => {
                let mut t = vec![region.clone()];
                let mut f = Vec::new();
                for c in cs {
                    let mut next = Vec::new();
                    for r in &t {
                        let (a, b) = self.split(r, c);
                        next.extend(a);
                        f.extend(b);
                    }
                    t = next;
                }
                (t, f)
            }
            Cond::Or(cs) => {
                let mut t = Vec::new();
                let mut f = vec![region.clone()];
                for c in cs {
                    let mut next = Vec::new();
                    for r in &f {
                        let (a, b) = self.split(r, c);
                        t.extend(a);
                        next.extend(b);
                    }
                    f = next;
                }
                (t, f)
            }
            Cond::Nor(cs) => {
                let (t, f) = self.split(region, &Cond::Or(cs.clone()));
                (f, t)
            }
        }
    }

    /// One concrete input inside the region: the first cell of each field (preferring a
    /// present value), set at its dotted path.
    pub fn witness(&self, region: &Region) -> Value {
        let mut doc = Value::Object(Map::new());
        for (fi, f) in self.fields.iter().enumerate() {
            let bits = &region.0[fi];
            let pick = bits
                .ones(f.cells.len())
                .find(|&i| f.cells[i].example.is_some())
                .or_else(|| bits.ones(f.cells.len()).next());
            if let Some(v) = pick.and_then(|i| f.cells[i].example.clone()) {
                set_path(&mut doc, &f.path, v);
            }
        }
        doc
    }

    /// Merges regions that differ in one field only, so a path reads as few regions as
    /// possible.
    pub fn merge(&self, mut regions: Vec<Region>) -> Vec<Region> {
        let mut changed = true;
        while changed {
            changed = false;
            'outer: for i in 0..regions.len() {
                for j in i + 1..regions.len() {
                    let diff: Vec<usize> = (0..self.fields.len())
                        .filter(|&k| regions[i].0[k] != regions[j].0[k])
                        .collect();
                    if diff.len() <= 1 {
                        if let Some(&k) = diff.first() {
                            regions[i].0[k] = regions[i].0[k].or(&regions[j].0[k]);
                        }
                        regions.remove(j);
                        changed = true;
                        break 'outer;
                    }
                }
            }
        }
        regions
    }

    /// The region as readable constraints, one per field it restricts.
    pub fn describe(&self, region: &Region) -> Vec<FieldConstraint> {
        let mut out = Vec::new();
        for (fi, f) in self.fields.iter().enumerate() {
            let n = f.cells.len();
            let bits = &region.0[fi];
            if bits.ones(n).count() == n {
                continue;
            }
            let mut c = FieldConstraint {
                field: f.path.clone(),
                intervals: Vec::new(),
                values: Vec::new(),
                missing: false,
                description: String::new(),
            };
            let mut named_strings = Vec::new();
            let mut other_string = false;
            let mut cur: Option<Interval> = None;
            for (i, cell) in f.cells.iter().enumerate() {
                let on = bits.has(i);
                match &cell.kind {
                    CellKind::Between(..) | CellKind::Point(_) if on => {
                        let (lo, lo_inc, hi, hi_inc) = match cell.kind {
                            CellKind::Point(p) => (Some(p), true, Some(p), true),
                            CellKind::Between(l, h) => (l, false, h, false),
                            _ => unreachable!("matched above"),
                        };
                        cur = Some(match cur.take() {
                            Some(mut iv) => {
                                iv.max = hi;
                                iv.max_inclusive = hi_inc;
                                iv
                            }
                            None => Interval {
                                min: lo,
                                min_inclusive: lo_inc,
                                max: hi,
                                max_inclusive: hi_inc,
                            },
                        });
                    }
                    CellKind::Between(..) | CellKind::Point(_) => {
                        if let Some(iv) = cur.take() {
                            c.intervals.push(iv);
                        }
                    }
                    CellKind::Missing => c.missing = on,
                    CellKind::Str(s) => {
                        named_strings.push((s.clone(), on));
                    }
                    CellKind::OtherString => other_string = on,
                    _ if on => c.values.extend(cell.example.clone()),
                    _ => {}
                }
            }
            if let Some(iv) = cur.take() {
                c.intervals.push(iv);
            }
            if other_string {
                // Any string except the named ones that are excluded.
                let excluded: Vec<Value> = named_strings
                    .iter()
                    .filter(|(_, on)| !on)
                    .map(|(s, _)| json!(s))
                    .collect();
                c.values.push(json!({ "anyStringExcept": excluded }));
            } else {
                c.values.extend(
                    named_strings
                        .iter()
                        .filter(|(_, on)| *on)
                        .map(|(s, _)| json!(s)),
                );
            }
            c.description = describe_text(&c);
            out.push(c);
        }
        out
    }
}

fn op_has_regex(op: &FieldOp) -> bool {
    match op {
        FieldOp::Regex(_) => true,
        FieldOp::All(ops) => ops.iter().any(op_has_regex),
        FieldOp::Not(x) => op_has_regex(x),
        _ => false,
    }
}

fn set_path(doc: &mut Value, path: &str, v: Value) {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        if i == parts.len() - 1 {
            m.insert(p.to_string(), v);
            return;
        }
        cur = m
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// A numeric interval; `None` bounds are unbounded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Interval {
    pub min: Option<f64>,
    pub min_inclusive: bool,
    pub max: Option<f64>,
    pub max_inclusive: bool,
}

/// What a region requires of one field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct FieldConstraint {
    pub field: String,
    /// Numeric values allowed (merged into maximal intervals).
    pub intervals: Vec<Interval>,
    /// Other values allowed: named strings, booleans, null, or `{"anyStringExcept": [...]}`.
    pub values: Vec<Value>,
    /// Whether the field may be missing.
    pub missing: bool,
    /// The same, as text: `10000 < amount <= 50000`.
    pub description: String,
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn describe_text(c: &FieldConstraint) -> String {
    let f = &c.field;
    let mut parts: Vec<String> = c
        .intervals
        .iter()
        .map(|iv| match (iv.min, iv.max) {
            (Some(a), Some(b)) if a == b => format!("{f} = {}", fmt_num(a)),
            (None, None) => format!("{f} is any number"),
            (Some(a), None) => format!(
                "{f} {} {}",
                if iv.min_inclusive { ">=" } else { ">" },
                fmt_num(a)
            ),
            (None, Some(b)) => format!(
                "{f} {} {}",
                if iv.max_inclusive { "<=" } else { "<" },
                fmt_num(b)
            ),
            (Some(a), Some(b)) => format!(
                "{} {} {f} {} {}",
                fmt_num(a),
                if iv.min_inclusive { "<=" } else { "<" },
                if iv.max_inclusive { "<=" } else { "<" },
                fmt_num(b)
            ),
        })
        .collect();
    for v in &c.values {
        match v.get("anyStringExcept").and_then(Value::as_array) {
            Some(ex) if ex.is_empty() => parts.push(format!("{f} is any string")),
            Some(ex) => parts.push(format!(
                "{f} is a string other than {}",
                ex.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => parts.push(format!("{f} = {v}")),
        }
    }
    if c.missing {
        parts.push(format!("{f} is missing"));
    }
    if parts.is_empty() {
        format!("{f}: no value")
    } else {
        parts.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::parse;

    #[test]
    fn k_thresholds_on_one_field_give_k_plus_one_regions() {
        let conds: Vec<Cond> = (1..=10)
            .map(|k| parse(&json!({"amount": {"$gt": k * 1000}})).unwrap())
            .collect();
        let schema = json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}});
        let mut space = Space::new(&conds, Some(&schema));
        let mut regions = vec![space.full()];
        for c in &conds {
            let mut next = Vec::new();
            for r in &regions {
                let (t, f) = space.split(r, c);
                next.extend(t);
                next.extend(f);
            }
            regions = space.merge(next);
        }
        assert_eq!(
            regions.len(),
            1,
            "merging the leaves of a fold gives back the whole space"
        );
        // Without merging, a chain of splits gives k+1 disjoint regions.
        let mut leaves = vec![space.full()];
        for c in &conds {
            let r = leaves.pop().unwrap();
            let (t, f) = space.split(&r, c);
            leaves.extend(f);
            leaves.extend(t);
        }
        assert_eq!(leaves.len(), 11);
    }

    #[test]
    fn describe_merges_adjacent_cells() {
        let c = parse(&json!({"amount": {"$gt": 10000}})).unwrap();
        let d = parse(&json!({"amount": {"$gt": 50000}})).unwrap();
        let mut space = Space::new([&c, &d], None);
        let (t, f) = space.split(&space.full(), &c);
        let (t2, _) = space.split(&t[0], &d);
        let low = space.describe(&f[0]);
        assert_eq!(low[0].description, "amount <= 10000 or amount is missing");
        let high = space.describe(&t2[0]);
        assert_eq!(high[0].description, "amount > 50000");
        assert_eq!(space.witness(&t2[0]), json!({"amount": 50001}));
    }
}
