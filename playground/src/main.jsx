import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
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

const fetcher = createGraphiQLFetcher({
  url: httpUrl,
  subscriptionUrl: wsUrl,
  wsConnectionParams: () => ({ Authorization: `Bearer ${currentToken()}` }),
});

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
