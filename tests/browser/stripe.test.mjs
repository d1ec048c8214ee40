// Paying through Stripe in a real browser: `atelier serve` with Stripe configured, against the
// Stripe stand-in (tests/stripe-standin) whose hosted checkout page is on its own origin, as
// Stripe's is. The shopper submits the checkout form, lands on Stripe's page, pays, comes back
// to the order page, which the signed webhook has marked paid.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { ATELIER_BIN, HERE, ROOT, fillAddress, freePort, launchBrowser, startSite } from "./lib.mjs";

const SKU = "LAV-PROV-30";
const STANDIN_BIN = process.env.STRIPE_STANDIN_BIN
  ? resolve(process.env.STRIPE_STANDIN_BIN)
  : resolve(HERE, "../../target/debug/stripe-standin");
// The stand-in's key (stripe_standin::SECRET_KEY) and a webhook secret both sides are given.
const SECRET_KEY = "sk_test_standin_4eC39HqLyjWDarjtT1zdp7dc";
const WEBHOOK_SECRET = "whsec_browser_suite";

let site;
let standin;
let browser;

function startStandin(port, webhookUrl) {
  const child = spawn(STANDIN_BIN, ["--port", String(port), "--webhook-url", webhookUrl, "--webhook-secret", WEBHOOK_SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((ok, fail) => {
    let out = "";
    child.on("error", (e) => fail(new Error(`cannot run ${STANDIN_BIN} (cargo build --bin stripe-standin): ${e.message}`)));
    child.on("exit", (code) => fail(new Error(`the Stripe stand-in exited (${code}): ${out}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/ready (\S+)/);
      if (m) ok({ child, url: m[1] });
    });
  });
}

before(async () => {
  const [sitePort, standinPort] = [await freePort(), await freePort()];
  standin = await startStandin(standinPort, `http://127.0.0.1:${sitePort}/api/webhooks/stripe`);
  [site, browser] = await Promise.all([
    startSite({
      port: sitePort,
      env: {
        STRIPE_SECRET_KEY: SECRET_KEY,
        STRIPE_API_BASE: standin.url,
        STRIPE_CHECKOUT_ORIGIN: standin.url,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
    }),
    launchBrowser(),
  ]);
  await site.setStock(SKU, 5);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  standin?.child.kill("SIGTERM");
});

describe("paying through Stripe", { concurrency: 1 }, () => {
  for (const javaScriptEnabled of [true, false]) {
    test(`checkout → Stripe's page on its own origin → paid → back to the order (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async () => {
      const context = await browser.newContext({ viewport: { width: 390, height: 900 }, javaScriptEnabled });
      const page = await context.newPage();
      const errors = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(`${site.base}/compendium/provence-lavender/`);
      await page.locator(`input[name=sku][value=${SKU}]`).check();
      await page.getByRole("button", { name: /add to cart/i }).click();
      // The bottle is in the cart once the drawer opens (script) or the cart page shows it.
      if (javaScriptEnabled) await page.locator("dialog[open]").waitFor({ state: "visible" });
      else await page.waitForURL(/\/cart\?added=1$/);
      await page.goto(`${site.base}/checkout`);
      await fillAddress(page);
      await page.getByRole("button", { name: /continue to payment/i }).click();

      // Stripe's page, on Stripe's origin: the form's redirect was allowed.
      await page.waitForURL((u) => u.href.startsWith(`${standin.url}/c/pay/cs_test_`), { timeout: 10_000 });
      assert.notEqual(new URL(page.url()).origin, new URL(site.base).origin);
      assert.match(await page.locator("#amount").innerText(), /EUR/);
      await page.getByRole("button", { name: /^pay$/i }).click();

      // Back at the atelier: the order, paid by Stripe's signed event.
      await page.waitForURL(/\/orders\/ord_[0-9a-f]+\?token=/, { timeout: 10_000 });
      const text = await page.locator("main").innerText();
      assert.match(text, /AA-\d{4}-\d{6}/);
      assert.match(text, /paid/i);
      assert.deepEqual(errors.filter((e) => /Content Security Policy/i.test(e)), [], "no CSP violation");
      await context.close();
    });
  }
});
