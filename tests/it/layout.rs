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
