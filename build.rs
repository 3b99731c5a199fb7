//! Builds the GraphiQL playground bundle (playground/, with npm) when it is missing or stale,
//! and copies it into OUT_DIR so the binary embeds it. Without npm the build still succeeds:
//! the embedded page then explains how to get the full playground.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const INPUTS: &[&str] = &["package.json", "package-lock.json", "build.mjs", "src"];
const OUTPUTS: &[&str] = &["index.html", "app.js", "app.css"];

fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let mut t = meta.modified().ok()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).ok()?.flatten() {
            if let Some(m) = newest(&entry.path()) {
                t = t.max(m);
            }
        }
    }
    Some(t)
}

fn run(dir: &Path, program: &str, args: &[&str]) -> bool {
    match Command::new(program).args(args).current_dir(dir).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            println!("cargo:warning={program} {} failed: {s}", args.join(" "));
            false
        }
        Err(e) => {
            println!(
                "cargo:warning={program} is not available ({e}); embedding the fallback playground page"
            );
            false
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let pg = root.join("playground");
    let dist = pg.join("dist");
    for i in INPUTS {
        println!("cargo:rerun-if-changed=playground/{i}");
    }
    println!("cargo:rerun-if-changed=playground/dist");
    println!("cargo:rerun-if-env-changed=WI_SKIP_PLAYGROUND_BUILD");

    let input_time = INPUTS.iter().filter_map(|i| newest(&pg.join(i))).max();
    let output_time = OUTPUTS
        .iter()
        .map(|o| {
            std::fs::metadata(dist.join(o))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect::<Option<Vec<_>>>()
        .and_then(|v| v.into_iter().min());
    let stale = match (input_time, output_time) {
        (_, None) => true,
        (Some(i), Some(o)) => i > o,
        (None, Some(_)) => false,
    };
    if stale && std::env::var_os("WI_SKIP_PLAYGROUND_BUILD").is_none() {
        let have_modules = pg.join("node_modules/.package-lock.json").exists();
        let ok = have_modules || run(&pg, "npm", &["ci", "--no-audit", "--no-fund"]);
        if ok {
            run(&pg, "node", &["build.mjs"]);
        }
    }

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("playground");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/playground");
    let complete = OUTPUTS.iter().all(|o| dist.join(o).exists());
    for o in OUTPUTS {
        let target = out.join(o);
        if complete {
            std::fs::copy(dist.join(o), &target).expect("copy playground asset");
        } else {
            let body = match *o {
                "index.html" => FALLBACK_HTML,
                _ => "",
            };
            std::fs::write(&target, body).expect("write fallback playground asset");
        }
    }
}

const FALLBACK_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>workflow-intel playground</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 3em auto">
<h1>The playground was not built</h1>
<p>This binary was compiled without Node.js and npm, so the GraphiQL bundle could not be built.
The GraphQL API itself works at <code>/graphql</code>.</p>
<p>To get the full playground, install Node.js 20 (which brings npm) and rebuild:</p>
<pre>cargo clean -p workflow-intel &amp;&amp; cargo build --release</pre>
<p>The build runs <code>npm ci</code> and <code>node build.mjs</code> in <code>playground/</code> and embeds the result.</p>
</body></html>
"#;
