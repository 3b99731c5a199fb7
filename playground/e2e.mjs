// Loads the playground in headless Chromium with every request to another origin blocked,
// waits for GraphiQL, opens the docs explorer on Query (the schema came from GraphiQL's own
// introspection query), runs the first prepared query, then (given an execution id) runs the
// BreachStream subscription over WebSocket, completes the execution late and waits for the
// breach to appear; last, types into the editor and reads the autocompletion it offers.
// Prints a JSON report on the last line.
// Usage: node e2e.mjs http://127.0.0.1:PORT TOKEN [EXECUTION_ID COMPLETED_AT]
import { chromium } from "playwright-core";

const [base, token, executionId, completedAt] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const report = {
  blocked: [], requests: 0, result: "", websockets: [], subscription: "",
  initialResult: "", docsFields: [], hints: [],
};
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) {
      report.requests += 1;
      return route.continue();
    }
    report.blocked.push(url);
    return route.abort();
  });
  page.on("pageerror", (e) => console.error("page error:", e.message));
  page.on("websocket", (ws) => report.websockets.push(ws.url()));
  await page.goto(`${origin}/playground#token=${token}`);
  await page.waitForSelector(".graphiql-container", { timeout: 60000 });
  // The docs explorer: root types, then Query's fields.
  await page.click('[aria-label="Show Documentation Explorer"]');
  await page.locator(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name", { hasText: /^Query$/ }).first().click({ timeout: 30000 });
  await page.waitForSelector(".graphiql-doc-explorer-field-name", { timeout: 30000 });
  report.docsFields = await page.$$eval(".graphiql-doc-explorer-field-name", (els) => els.map((e) => e.textContent));
  report.initialResult = await page.evaluate(() => document.querySelector(".result-window")?.textContent || "");
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => (document.querySelector(".result-window")?.textContent || "").includes("totalCount"),
    null,
    { timeout: 30000 },
  );
  report.result = await page.evaluate(() => document.querySelector(".result-window").textContent);
  if (process.env.E2E_SCREENSHOT) await page.screenshot({ path: process.env.E2E_SCREENSHOT });
  if (executionId) {
    await page.getByText("BreachStream", { exact: true }).first().click();
    await page.click(".graphiql-execute-button");
    // Give the subscription a moment to be established, then make a breach happen.
    await page.waitForTimeout(1500);
    const resp = await fetch(`${origin}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: "mutation($e: ID!, $c: DateTime!) { completeExecution(input: {executionId: $e, status: COMPLETED, completedAt: $c}) { execution { id } } }",
        variables: { e: executionId, c: completedAt },
      }),
    });
    report.completion = resp.status;
    if (process.env.E2E_SCREENSHOT) {
      await page.waitForTimeout(2000);
      await page.screenshot({ path: process.env.E2E_SCREENSHOT.replace(".png", "-sub.png") });
    }
    await page.waitForFunction(
      () => (document.querySelector(".result-window")?.textContent || "").includes("DETECTED"),
      null,
      { timeout: 30000 },
    );
    report.subscription = await page.evaluate(() => document.querySelector(".result-window").textContent);
  }
  // Autocompletion from the introspected schema: a new tab, then type the start of a field.
  await page.click('[aria-label="Add tab"]');
  await page.click(".graphiql-query-editor .CodeMirror");
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("{ slaBr", { delay: 50 });
  await page.waitForSelector(".CodeMirror-hints .CodeMirror-hint", { timeout: 30000 });
  report.hints = await page.$$eval(".CodeMirror-hints .CodeMirror-hint", (els) => els.map((e) => e.textContent));
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
