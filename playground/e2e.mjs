// Loads the playground in headless Chromium with every request to another origin blocked,
// waits for GraphiQL, runs the first prepared query and prints a JSON report on the last line.
// Usage: node e2e.mjs http://127.0.0.1:PORT TOKEN
import { chromium } from "playwright-core";

const [base, token] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const report = { blocked: [], requests: 0, result: "" };
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
  await page.goto(`${origin}/playground#token=${token}`);
  await page.waitForSelector(".graphiql-container", { timeout: 60000 });
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => (document.querySelector(".result-window")?.textContent || "").includes("totalCount"),
    null,
    { timeout: 30000 },
  );
  report.result = await page.evaluate(() => document.querySelector(".result-window").textContent);
  if (process.env.E2E_SCREENSHOT) await page.screenshot({ path: process.env.E2E_SCREENSHOT });
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
