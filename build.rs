//! Builds the pages (playground/: GraphiQL and the SLA board, bundled with esbuild) into OUT_DIR so the binary
//! embeds them. Nothing is written into a path this script watches, so a second `cargo build`
//! compiles nothing.
//!
//! - With Node.js and npm: `npm ci` (when node_modules is missing), then `node build.mjs OUT_DIR`.
//! - Without them (or with WI_PLAYGROUND=prebuilt): the committed, gzipped bundle in
//!   playground/prebuilt/, stamped with a hash of the page sources (`node build.mjs --check`
//!   in CI keeps it in step).
//! - With neither: a page that explains how to get the playground.
use std::path::{Path, PathBuf};
use std::process::Command;

const INPUTS: &[&str] = &["package.json", "package-lock.json", "build.mjs", "src"];
const OUTPUTS: &[&str] = &[
    "index.html",
    "app.js",
    "app.css",
    "board.html",
    "board.js",
    "board.css",
];

fn run(dir: &Path, program: &str, args: &[&str]) -> bool {
    match Command::new(program).args(args).current_dir(dir).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            println!("cargo:warning={program} {} failed: {s}", args.join(" "));
            false
        }
        Err(e) => {
            println!("cargo:warning={program} is not available ({e}); using the prebuilt pages");
            false
        }
    }
}

/// `npm ci` when needed, then esbuild into `out`.
fn build_from_source(pg: &Path, out: &Path) -> bool {
    let have_modules = pg.join("node_modules/.package-lock.json").exists();
    let ok = have_modules || run(pg, "npm", &["ci", "--no-audit", "--no-fund"]);
    ok && run(pg, "node", &["build.mjs", &out.to_string_lossy()])
        && OUTPUTS.iter().all(|o| out.join(o).exists())
}

/// Unpacks playground/prebuilt/*.gz into `out`; false when the bundle is not there.
fn unpack_prebuilt(pg: &Path, out: &Path) -> bool {
    use std::io::Read;
    let dir = pg.join("prebuilt");
    for o in OUTPUTS {
        let Ok(file) = std::fs::File::open(dir.join(format!("{o}.gz"))) else {
            return false;
        };
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut body)
            .expect("read prebuilt playground asset");
        std::fs::write(out.join(o), body).expect("write playground asset");
    }
    true
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let pg = root.join("playground");
    for i in INPUTS {
        println!("cargo:rerun-if-changed=playground/{i}");
    }
    println!("cargo:rerun-if-changed=playground/prebuilt");
    println!("cargo:rerun-if-env-changed=WI_PLAYGROUND");

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("playground");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/playground");
    let from_source = std::env::var("WI_PLAYGROUND").map_or(true, |v| v != "prebuilt");
    if (from_source && build_from_source(&pg, &out)) || unpack_prebuilt(&pg, &out) {
        return;
    }
    println!("cargo:warning=no playground bundle: embedding the fallback page");
    for o in OUTPUTS {
        let body = if o.ends_with(".html") {
            FALLBACK_HTML
        } else {
            ""
        };
        std::fs::write(out.join(o), body).expect("write fallback playground asset");
    }
}

const FALLBACK_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>workflow-intel playground</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 3em auto">
<h1>The pages were not built</h1>
<p>This binary was compiled without Node.js and npm, and without the prebuilt bundle in
<code>playground/prebuilt/</code>, so the GraphiQL playground and the SLA board could not be embedded.
The GraphQL API itself works at <code>/graphql</code>.</p>
<p>To get them, install Node.js 20 (which brings npm) and rebuild:</p>
<pre>cargo clean -p workflow-intel &amp;&amp; cargo build --release</pre>
</body></html>
"#;
