// Bundles GraphiQL and its CSS into dist/ so the binary can embed them: the browser then
// loads nothing from anywhere but the workflow-intel server.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.jsx"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outfile: "dist/app.js",
  loader: { ".js": "jsx", ".svg": "dataurl", ".woff": "dataurl", ".woff2": "dataurl" },
  define: { "process.env.NODE_ENV": '"production"' },
  jsx: "automatic",
  logLevel: "warning",
});
copyFileSync("src/index.html", "dist/index.html");
console.log("playground built into dist/");
