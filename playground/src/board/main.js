// The board's entry: the token (URL fragment `#token=…`, the one saved earlier, or the
// sign-in form), the view from the query string (`?view=board|workflow`, with the filters),
// and the header that switches views.
import "./board.css";
import { api } from "./api.js";
import { h } from "./dom.js";
import { boardView } from "./board.js";
import { workflowView } from "./workflow.js";

const KEY = "workflow-intel:token";
const hash = new URLSearchParams(location.hash.slice(1));
const token = hash.get("token") || localStorage.getItem(KEY) || "";
if (hash.get("token")) localStorage.setItem(KEY, token);
const params = new URLSearchParams(location.search);

// Changes the query string (filters, view) and reloads; the token stays in the fragment.
function go(changes) {
  const next = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") next.delete(k);
    else next.set(k, v);
  }
  location.assign(`${location.pathname}?${next}${location.hash}`);
}

function signIn(root, message) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const submit = (e) => {
    e.preventDefault();
    localStorage.setItem(KEY, input.value.trim());
    location.hash = `token=${encodeURIComponent(input.value.trim())}`;
    location.reload();
  };
  root.replaceChildren(h("form", { class: "signin", onsubmit: submit },
    h("h1", {}, "workflow-intel · SLA board"),
    message ? h("p", { role: "alert" }, message) : null,
    h("label", { for: "token" }, "API token"), input,
    h("button", { type: "submit" }, "Sign in")));
  input.focus();
}

function header(view) {
  const link = (v, text) => h("a", { href: `?view=${v}${location.hash}`, "aria-current": view === v ? "page" : null }, text);
  return h("header", {}, h("h1", {}, "workflow-intel"), h("nav", { "aria-label": "Views" }, link("board", "SLA board"), link("workflow", "Workflows")),
    h("a", { href: `/playground${location.hash}`, class: "muted" }, "GraphQL playground"));
}

async function start() {
  const root = document.getElementById("root");
  if (!token) return signIn(root);
  const view = params.get("view") === "workflow" ? "workflow" : "board";
  const main = h("main", { id: "view", "data-view": view });
  root.replaceChildren(header(view), main);
  const gql = api(token);
  try {
    if (view === "workflow") {
      const { workflows } = await gql("{ workflows(first: 100) { nodes { id name } } }");
      await workflowView(main, { gql, params, go, workflows: workflows.nodes });
    } else {
      await boardView(main, { gql, token, params, go });
    }
    main.dataset.ready = "true";
  } catch (e) {
    if (e.codes && e.codes.includes("UNAUTHENTICATED")) return signIn(root, "That token was refused. Sign in with another.");
    main.replaceChildren(h("p", { role: "alert" }, `The board could not load: ${e.message}`));
  }
}

start();
