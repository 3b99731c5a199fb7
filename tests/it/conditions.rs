//! The language-neutral condition suite in tests/data/conditions.json.
use serde_json::Value;
use workflow_intel::conditions::parse;

fn suite() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conditions.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read suite")).expect("suite JSON")
}

#[test]
fn every_case_matches_its_expectation() {
    let s = suite();
    let cases = s["cases"].as_array().unwrap();
    assert!(cases.len() >= 150, "the suite has {} cases", cases.len());
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let cond = match parse(&c["condition"]) {
            Ok(cond) => cond,
            Err(e) => {
                failures.push(format!("case {i}: {} does not parse: {e}", c["condition"]));
                continue;
            }
        };
        let got = cond.matches(&c["document"]);
        if let Some(map) = c["document"].as_object() {
            assert_eq!(
                cond.matches_map(map),
                got,
                "matches_map disagrees on case {i}"
            );
        }
        if got != c["expected"].as_bool().unwrap() {
            failures.push(format!(
                "case {i}: {} on {} gave {got} ({})",
                c["condition"], c["document"], c["note"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_conditions_are_rejected_with_their_path() {
    let s = suite();
    for c in s["invalid"].as_array().unwrap() {
        match parse(&c["condition"]) {
            Ok(_) => panic!("{} should be rejected", c["condition"]),
            Err(e) => assert_eq!(
                e.path,
                c["path"].as_str().unwrap(),
                "{} -> {e}",
                c["condition"]
            ),
        }
    }
}
