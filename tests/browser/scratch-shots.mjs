import { launchBrowser, startSite } from "./lib.mjs";
const site = await startSite({ demoStock: true });
const browser = await launchBrowser();
for (const w of [390, 1280]) {
  const ctx = await browser.newContext({ viewport: { width: w, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(site.base + "/compendium/provence-lavender/", { waitUntil: "networkidle" });
  await page.getByRole("button", { name: /add to cart/i }).first().click();
  await page.waitForTimeout(800);
  await page.goto(site.base + "/cart", { waitUntil: "networkidle" });
  await page.screenshot({ path: `/tmp/s-cart-${w}.png`, fullPage: true });
  await page.goto(site.base + "/checkout", { waitUntil: "networkidle" });
  await page.screenshot({ path: `/tmp/s-checkout-${w}.png`, fullPage: true });
  for (const [n, p] of [["privacy", "/legal/privacy/"], ["search", "/search/"], ["home", "/"], ["essence", "/compendium/provence-lavender/"], ["compendium", "/compendium/"], ["humours", "/manuscript/on-the-four-humours/"]]) {
    await page.goto(site.base + p, { waitUntil: "networkidle" });
    await page.evaluate(() => document.querySelectorAll('img[loading="lazy"]').forEach((i) => (i.loading = "eager")));
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: `/tmp/s-${n}-${w}.png`, fullPage: true });
  }
  await ctx.close();
}
await browser.close(); await site.stop();
