// The peer for scenario S in benches/load.rs: a plain Node GraphQL-over-WebSocket server
// (graphql-ws 6 on ws 8), with the same subscription field and selection as workflow-intel's,
// fed from memory: POST /fire {"externalId": "…"} publishes one CRITICAL event to every
// subscriber. No database and no authentication, so it is a ceiling for the fan-out alone.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { buildSchema } from 'graphql';

const schema = buildSchema(`
  enum Severity { WARNING CRITICAL }
  input BreachEventFilterInput { severity: Severity }
  type Sla { name: String }
  type Workflow { name: String }
  type Execution { externalId: String workflow: Workflow }
  type Breach { id: ID severity: Severity actualDurationSeconds: Float sla: Sla execution: Execution }
  type BreachEvent { kind: String breach: Breach }
  type Query { ok: Boolean }
  type Subscription { slaBreachEvents(filter: BreachEventFilterInput): BreachEvent }
`);

const listeners = new Set();

async function* events() {
  const queue = [];
  let wake = null;
  const push = (e) => { queue.push(e); if (wake) { wake(); wake = null; } };
  listeners.add(push);
  try {
    for (;;) {
      while (queue.length) yield { slaBreachEvents: queue.shift() };
      await new Promise((r) => { wake = r; });
    }
  } finally {
    listeners.delete(push);
  }
}

const root = { ok: () => true, slaBreachEvents: () => events() };

const http = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/fire') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const { externalId } = JSON.parse(body || '{}');
      const event = {
        kind: 'DETECTED',
        breach: {
          id: externalId, severity: 'CRITICAL', actualDurationSeconds: 400,
          sla: { name: 'Load SLA' }, execution: { externalId, workflow: { name: 'Load' } },
        },
      };
      for (const push of listeners) push(event);
      res.end('{"ok":true}');
    });
    return;
  }
  res.end('ok');
});

const wss = new WebSocketServer({ server: http, path: '/graphql' });
useServer({ schema, roots: { query: root, subscription: root } }, wss);
http.listen(Number(process.argv[2] || 4000), '127.0.0.1');
