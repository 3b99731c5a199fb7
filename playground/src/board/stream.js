// The breach stream over graphql-ws, resumed after any drop from the last sequence seen, so
// that nothing is lost and nothing comes twice. graphql-ws's own retry would re-send the first
// subscription's variables (a stale afterSequence), so this reconnects by itself.
import { createClient } from "graphql-ws";
import { STREAM } from "./api.js";

const FATAL = new Set([4401, 4403]);

export function openStream({ token, filter, after, onEvent, onState }) {
  const url = `${location.origin.replace(/^http/, "ws")}/graphql`;
  let last = after;
  let away = false;
  let missed = 0;
  let attempt = 0;
  let client = null;

  function retry(reason) {
    if (client) client.dispose();
    client = null;
    if (Array.isArray(reason)) {
      onState("refused", missed, reason.map((e) => e.message).join("; "));
      return;
    }
    if (reason && FATAL.has(reason.code)) {
      onState("refused", missed, reason.reason || "the token was refused");
      return;
    }
    away = true;
    onState("reconnecting", missed);
    const wait = Math.min(500 * 2 ** attempt, 5000);
    attempt += 1;
    setTimeout(connect, wait);
  }

  function next(msg) {
    const lagged = (msg.errors || []).find((e) => e.extensions && e.extensions.code === "LAGGED");
    if (lagged) {
      last = lagged.extensions.lastSequence;
      return;
    }
    const ev = msg.data && msg.data.slaBreachEvents;
    if (!ev) return;
    last = ev.sequence;
    if (ev.replayed && away) {
      missed += 1;
      onState("resumed", missed);
    }
    onEvent(ev);
  }

  function connect() {
    client = createClient({
      url,
      connectionParams: { Authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: true,
      on: {
        connected: () => {
          attempt = 0;
          onState(away ? "resumed" : "live", missed);
        },
      },
    });
    client.subscribe(
      { query: STREAM, variables: { filter, after: last } },
      { next, error: retry, complete: () => retry(null) },
    );
  }

  connect();
  return { lastSequence: () => last };
}
