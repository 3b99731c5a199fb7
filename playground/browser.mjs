// A headless Chromium that the Rust tests drive line by line: each line on stdin is a JSON
// command, each answer one JSON line on stdout. Every request to another origin than the
// server's is blocked and reported, and so is every error a page throws.
//
//   {"op":"open","page":"a","url":"http://127.0.0.1:PORT/board#token=…"}  (own context each)
//   {"op":"wait","page":"a","js":"<expression>","timeout":30000}   → the truthy value
//   {"op":"eval","page":"a","js":"<expression>"}                    → its value
//   {"op":"click","page":"a","selector":"…"}   {"op":"fill","page":"a","selector":"…","value":"…"}
//   {"op":"press","page":"a","key":"Tab"}      {"op":"select","page":"a","selector":"…","value":"…"}
//   {"op":"block_ws","page":"a"}   {"op":"unblock_ws","page":"a"}   (new /graphql sockets refused;
//   unblock_ws answers how many were)
//   {"op":"screenshot","page":"a","path":"…"}
//   {"op":"close"}
// Answers: {"ok":true,"value":…,"blocked":[…],"errors":[…]} or {"ok":false,"error":"…",…}.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const pages = new Map();
// Pages whose new WebSocket connections to /graphql are refused (closed with 1012) until
// unblocked: a test holds a board away from the server while something happens.
const wsBlocked = new Map();
const blocked = [];
const frames = new Map();
const refused = new Map();
const errors = [];

async function open({ page: name, url, width = 1400, height = 900 }) {
  const origin = new URL(url).origin;
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  await page.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    blocked.push(u);
    return route.abort();
  });
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  // The WebSocket traffic, told in the error of a wait that timed out.
  const log = [];
  frames.set(name, log);
  page.on("websocket", (ws) => {
    const t0 = Date.now();
    log.push(`${t0} websocket`);
    const cut = (t) => (t.length > 360 ? `${t.slice(0, 180)} … ${t.slice(-180)}` : t);
    const note = (dir, text) => log.push(`${Date.now() - t0}ms ${dir} ${cut(String(text))}`);
    note("open", ws.url());
    ws.on("framesent", (f) => note(">", f.payload));
    ws.on("framereceived", (f) => note("<", f.payload));
    ws.on("close", () => note("closed", ""));
    ws.on("socketerror", (e) => note("error", e));
  });
  // Routed before the page loads: Playwright wraps the page's WebSocket class when a document
  // starts, so a route added later never sees the sockets of the document already open.
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    if (wsBlocked.get(name)) {
      log.push(`${Date.now()} route: refused`);
      refused.set(name, (refused.get(name) || 0) + 1);
      ws.close({ code: 1012, reason: "blocked by the test" });
    } else {
      ws.connectToServer();
    }
  });
  await page.goto(url);
  pages.set(name, page);
  return null;
}

const ops = {
  open,
  wait: async ({ page, js, timeout = 30000 }) => {
    try {
      return await (await pages.get(page).waitForFunction(js, null, { timeout })).jsonValue();
    } catch (e) {
      // Say what the page showed instead, so a timeout in CI can be read afterwards.
      const shown = await pages.get(page).evaluate(() => document.body.innerText.slice(0, 1500)).catch(() => "?");
      const ws = (frames.get(page) || []).slice(-40).join("\n");
      throw new Error(`${e.message}; the page showed: ${JSON.stringify(shown)}; its WebSockets:\n${ws}`);
    }
  },
  eval: async ({ page, js }) => pages.get(page).evaluate(js),
  click: async ({ page, selector }) => pages.get(page).click(selector, { timeout: 30000 }),
  fill: async ({ page, selector, value }) => pages.get(page).fill(selector, value, { timeout: 30000 }),
  press: async ({ page, key }) => pages.get(page).keyboard.press(key),
  block_ws: async ({ page }) => {
    (frames.get(page) || []).push(`${Date.now()} blocked`);
    wsBlocked.set(page, true);
  },
  // Answers how many sockets were refused while blocked.
  unblock_ws: async ({ page }) => {
    (frames.get(page) || []).push(`${Date.now()} unblocked`);
    wsBlocked.set(page, false);
    return refused.get(page) || 0;
  },
  select: async ({ page, selector, value }) => pages.get(page).selectOption(selector, value, { timeout: 30000 }),
  screenshot: async ({ page, path }) => pages.get(page).screenshot({ path, fullPage: true }),
};

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === "close") break;
  let answer;
  try {
    const value = await ops[cmd.op](cmd);
    answer = { ok: true, value: value === undefined ? null : value };
  } catch (e) {
    answer = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  console.log(JSON.stringify({ ...answer, blocked, errors }));
}
await browser.close();
