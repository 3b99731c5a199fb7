// Opens URL in headless Chromium and prints, as JSON, what the page's `window.result` promise
// resolves to. Requests to hosts other than 127.0.0.1 and localhost are blocked.
// Usage: node page-result.mjs URL
import { chromium } from "playwright-core";

const [url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    return host === "127.0.0.1" || host === "localhost" ? route.continue() : route.abort();
  });
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(url);
  const result = await page.evaluate(() => window.result);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
