//! The README's layout is a true map: every `src/` folder and top-level file it names exists,
//! and every one that exists is named.
use std::collections::BTreeSet;

/// The paths the README's Layout block names at the start of a line.
fn named_in_readme() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let block = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("```text").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("a ```text block under ## Layout");
    block
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_layout_names_every_src_entry_and_only_those() {
    let root = env!("CARGO_MANIFEST_DIR");
    let named = named_in_readme();
    let named_src: BTreeSet<String> = named
        .iter()
        .filter(|p| p.starts_with("src/"))
        .cloned()
        .collect();
    let mut present = BTreeSet::new();
    for e in std::fs::read_dir(format!("{root}/src")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let dir = e.file_type().unwrap().is_dir();
        present.insert(if dir {
            format!("src/{name}/")
        } else {
            format!("src/{name}")
        });
    }
    let missing: Vec<_> = present.difference(&named_src).collect();
    let stale: Vec<_> = named_src.difference(&present).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README layout: not named {missing:?}; named but absent {stale:?}"
    );
    for p in named.iter().filter(|p| !p.starts_with("src/")) {
        assert!(
            std::path::Path::new(root).join(p).exists(),
            "README layout names {p}, which does not exist"
        );
    }
}

/// Writes `want` to `path` under UPDATE_DOCS=1; otherwise fails when they differ.
fn in_sync(path: &str, have: &str, want: &str, what: &str) {
    if have == want {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        return;
    }
    panic!("{path}: {what} is stale: run UPDATE_DOCS=1 cargo test --test it settings");
}

#[test]
fn the_settings_table_and_the_example_file_are_generated_from_the_struct() {
    use workflow_intel::config::Config;
    let root = env!("CARGO_MANIFEST_DIR");
    let readme_path = format!("{root}/README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (start, end) = ("-->\n", "<!-- end of settings table -->");
    let marker = readme
        .find("<!-- settings table:")
        .expect("the settings table's marker");
    let from = marker + readme[marker..].find(start).unwrap() + start.len();
    let to = readme.find(end).expect("the settings table's end marker");
    let table = Config::markdown_table();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{table}{}", &readme[..from], &readme[to..]);
        std::fs::write(&readme_path, updated).unwrap();
    }
    in_sync(
        &readme_path,
        &readme[from..to],
        &table,
        "the settings table",
    );
    for key in Config::keys() {
        assert!(
            table.contains(&format!("`{}`", key.to_ascii_uppercase())),
            "{key}"
        );
    }

    let example_path = format!("{root}/examples/workflow-intel.toml");
    let example = std::fs::read_to_string(&example_path).unwrap_or_default();
    let want = Config::example_toml();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&example_path, &want).unwrap();
    }
    in_sync(&example_path, &example, &want, "the example file");
    // It lists every key, loads as the server loads it, and validates against the schema.
    let parsed: toml::Table = toml::from_str(&want).unwrap();
    assert_eq!(
        parsed.keys().cloned().collect::<BTreeSet<_>>(),
        Config::keys().into_iter().collect::<BTreeSet<_>>()
    );
    Config::from_layers(Some(&want), |_| None).expect("the example loads");
    let json = serde_json::to_value(&parsed).unwrap();
    let schema = Config::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
