import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { parse } from "graphql";
import "graphiql/graphiql.css";
import { examples } from "./examples.js";

// A token given as `#token=...` (the demo prints such a URL) pre-fills the Authorization
// header for HTTP, and the WebSocket connection_init payload for subscriptions.
const hash = new URLSearchParams(window.location.hash.slice(1));
const token = hash.get("token") || window.localStorage.getItem("workflow-intel:token") || "";
if (hash.get("token")) window.localStorage.setItem("workflow-intel:token", token);

const httpUrl = `${window.location.origin}/graphql`;
const wsUrl = httpUrl.replace(/^http/, "ws");

function currentToken() {
  // Prefer whatever the user typed into the headers editor.
  try {
    const raw = window.localStorage.getItem("graphiql:headers");
    const auth = raw && JSON.parse(raw).Authorization;
    if (auth) return auth.replace(/^Bearer\s+/i, "");
  } catch (_) {
    /* headers editor content is not JSON yet */
  }
  return token;
}

const baseFetcher = createGraphiQLFetcher({
  url: httpUrl,
  subscriptionUrl: wsUrl,
  wsConnectionParams: () => ({ Authorization: `Bearer ${currentToken()}` }),
});

// Right after switching tabs GraphiQL can still pass the previous tab's operation name and
// parsed document, so a subscription goes out over HTTP ("Unknown operation named …").
// The fetcher parses what it sends, and a document with one operation names it itself.
function fetcher(params, opts) {
  try {
    const documentAST = parse(params.query);
    const ops = documentAST.definitions.filter((d) => d.kind === "OperationDefinition");
    if (ops.length === 1) {
      params = { ...params, operationName: ops[0].name ? ops[0].name.value : undefined };
    }
    opts = { ...opts, documentAST };
  } catch (_) {
    /* not parseable yet: let the server report it */
  }
  return baseFetcher(params, opts);
}

const headers = token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : "";

function App() {
  return (
    <GraphiQL
      fetcher={fetcher}
      defaultHeaders={headers}
      shouldPersistHeaders={true}
      defaultEditorToolsVisibility={true}
      defaultTabs={examples.map((e) => ({ query: e.query, variables: e.variables, headers }))}
    />
  );
}

createRoot(document.getElementById("root")).render(<App />);
