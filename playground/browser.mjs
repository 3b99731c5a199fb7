// A headless Chromium that the Rust tests drive line by line: each line on stdin is a JSON
// command, each answer one JSON line on stdout. Every request to another origin than the
// server's is blocked and reported, and so is every error a page throws.
//
//   {"op":"open","page":"a","url":"http://127.0.0.1:PORT/board#token=…"}  (own context each)
//   {"op":"wait","page":"a","js":"<expression>","timeout":30000}   → the truthy value
//   {"op":"eval","page":"a","js":"<expression>"}                    → its value
//   {"op":"click","page":"a","selector":"…"}   {"op":"fill","page":"a","selector":"…","value":"…"}
//   {"op":"press","page":"a","key":"Tab"}      {"op":"select","page":"a","selector":"…","value":"…"}
//   {"op":"block_ws","page":"a"}   {"op":"unblock_ws","page":"a"}   (new /graphql sockets refused)
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
  await page.goto(url);
  pages.set(name, page);
  return null;
}

const ops = {
  open,
  wait: async ({ page, js, timeout = 30000 }) =>
    (await pages.get(page).waitForFunction(js, null, { timeout })).jsonValue(),
  eval: async ({ page, js }) => pages.get(page).evaluate(js),
  click: async ({ page, selector }) => pages.get(page).click(selector, { timeout: 30000 }),
  fill: async ({ page, selector, value }) => pages.get(page).fill(selector, value, { timeout: 30000 }),
  press: async ({ page, key }) => pages.get(page).keyboard.press(key),
  block_ws: async ({ page }) => {
    if (!wsBlocked.has(page)) {
      await pages.get(page).routeWebSocket(/\/graphql$/, (ws) => {
        if (wsBlocked.get(page)) ws.close({ code: 1012, reason: "blocked by the test" });
        else ws.connectToServer();
      });
    }
    wsBlocked.set(page, true);
  },
  unblock_ws: async ({ page }) => wsBlocked.set(page, false),
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
