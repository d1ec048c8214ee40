// Write a full-page PNG of every page type at 390 px and 1280 px.
// Usage: npm run screenshots -- [folder]   (default /tmp/atelier-screenshots)
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { PAGES, WIDTHS, launchBrowser, mapLimit, startSite } from "./lib.mjs";

const folder = resolve(process.argv[2] || "/tmp/atelier-screenshots");
mkdirSync(folder, { recursive: true });

const site = await startSite({ demoStock: true });
const browser = await launchBrowser();
try {
  const jobs = WIDTHS.flatMap((width) => PAGES.map((p) => ({ ...p, width })));
  const written = await mapLimit(jobs, 3, async ({ name, path, width }) => {
    const context = await browser.newContext({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    try {
      await page.goto(site.base + path, { waitUntil: "networkidle" });
      if (name === "search") {
        // Show the search at work: a query and its results.
        await page.locator("main input[name=q]").fill("lavender");
        await page.keyboard.press("Enter");
        await page.locator("#search-results li").first().waitFor({ timeout: 5000 });
      }
      await page.evaluate(() => document.fonts.ready);
      // Lazy images below the fold: bring them in before the full-page shot.
      await page.evaluate(() => document.querySelectorAll('img[loading="lazy"]').forEach((i) => (i.loading = "eager")));
      await page.waitForLoadState("networkidle");
      const file = resolve(folder, `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
      return file;
    } finally {
      await context.close();
    }
  });
  for (const f of written) console.log(f);
  console.log(`${written.length} screenshots in ${folder}`);
} finally {
  await browser.close();
  await site.stop();
}
