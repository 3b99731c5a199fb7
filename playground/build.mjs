// Bundles GraphiQL and its CSS (the playground), and the live SLA board with its workflow
// view, so the binary can embed them: the browser then loads nothing from anywhere but the
// workflow-intel server.
//
//   node build.mjs [DIR]   build index.html, app.js and app.css into DIR (default dist/);
//                          cargo's build script passes its OUT_DIR, so the build never writes
//                          into a path it watches.
//   node build.mjs --prebuilt   rebuild prebuilt/ (the gzipped bundle committed for machines
//                               without npm) and stamp it with the hash of the page sources.
//   node build.mjs --check      exit 1 when prebuilt/'s stamp does not match the sources.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const SOURCES = ["package.json", "package-lock.json", "build.mjs", "src"];
const OUTPUTS = ["index.html", "app.js", "app.css", "board.html", "board.js", "board.css"];
const STAMP = join("prebuilt", "SOURCES.sha256");

function files(path) {
  return statSync(path).isDirectory()
    ? readdirSync(path).sort().flatMap((name) => files(join(path, name)))
    : [path];
}

// SHA-256 over each source file's path and bytes, in a fixed order.
function sourcesHash() {
  const hash = createHash("sha256");
  for (const f of SOURCES.flatMap(files)) {
    hash.update(f.split("\\").join("/") + "\0");
    hash.update(readFileSync(f));
    hash.update("\0");
  }
  return hash.digest("hex");
}

async function bundle(out) {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: "src/main.jsx", board: "src/board/main.js" },
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    outdir: out,
    loader: { ".js": "jsx", ".svg": "dataurl", ".woff": "dataurl", ".woff2": "dataurl" },
    define: { "process.env.NODE_ENV": '"production"' },
    jsx: "automatic",
    logLevel: "warning",
  });
  copyFileSync("src/index.html", join(out, "index.html"));
  copyFileSync("src/board/index.html", join(out, "board.html"));
}

const arg = process.argv[2];
if (arg === "--check") {
  let stamped = "";
  try {
    stamped = readFileSync(STAMP, "utf8").trim();
  } catch {}
  const now = sourcesHash();
  if (stamped !== now) {
    console.error(`playground/${STAMP} is ${stamped || "missing"}, the sources hash to ${now}: run \`node build.mjs --prebuilt\` in playground/ and commit prebuilt/`);
    process.exit(1);
  }
  console.log(`prebuilt bundle matches the sources (${now})`);
} else if (arg === "--prebuilt") {
  const tmp = mkdtempSync(join(tmpdir(), "wi-playground-"));
  await bundle(tmp);
  mkdirSync("prebuilt", { recursive: true });
  for (const o of OUTPUTS) {
    writeFileSync(join("prebuilt", `${o}.gz`), gzipSync(readFileSync(join(tmp, o)), { level: 9 }));
  }
  writeFileSync(STAMP, sourcesHash() + "\n");
  console.log(`prebuilt/ written and stamped ${sourcesHash()}`);
} else {
  const out = arg ?? "dist";
  await bundle(out);
  console.log(`playground built into ${out}`);
}
