import { spawnSync } from "node:child_process";
import { ATELIER_BIN, ROOT, launchBrowser, startSite, fillAddress } from "./lib.mjs";
const site = await startSite({ demoStock: true });
const browser = await launchBrowser();
try {
  for (const width of [390, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.request.post(`${site.base}/api/cart/items`, { data: { sku: "LAV-PROV-30", quantity: 1 } });
    await page.goto(`${site.base}/checkout`);
    await fillAddress(page);
    await page.locator("[name=postal_code]").fill("ABC");
    await page.locator("[name=email]").fill("ada@");
    await page.getByRole("button", { name: /continue to payment/i }).click();
    await page.waitForLoadState("load");
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: `/tmp/shot-coerr-${width}.png`, fullPage: width < 1000 });
    await page.goto(`${site.base}/compendium/`);
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: `/tmp/shot-comp-${width}.png`, fullPage: true });
    await context.close();
  }
} finally { await browser.close(); await site.stop(); }
