// Paying through Stripe in a real browser: `atelier serve` with Stripe configured, against the
// Stripe stand-in (tests/stripe-standin) whose hosted checkout page is on its own origin, as
// Stripe's is. The shopper submits the checkout form, lands on Stripe's page, pays, comes back
// to the order page, which the signed webhook has marked paid.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { ATELIER_BIN, HERE, ROOT, axe, fillAddress, freePort, launchBrowser, outboxTexts, startSite } from "./lib.mjs";

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

// The first mail to `to` holding `text`, once the outbox has it.
async function mailWith(text, to) {
  for (let i = 0; i < 100; i++) {
    const mail = outboxTexts(site.data).find((t) => t.includes(text) && t.includes(`To: ${to}`));
    if (mail) return mail;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no mail with "${text}" to ${to} in the outbox`);
}

describe("the Folio through Stripe", { concurrency: 1 }, () => {
  test("subscribe → Stripe Checkout in subscription mode → running → pause and resume at Stripe", async () => {
    const email = "caroline@example.com";
    const password = "comet sweeping slowly";
    const context = await browser.newContext({ viewport: { width: 390, height: 900 }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${site.base}/account/register`);
    await page.getByLabel("Your name").fill("Caroline Herschel");
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Open my account" }).click();
    const confirm = (await mailWith("Confirm your address", email)).match(/https?:\/\/[^\s"<>]*\/account\/verify\?token=[0-9a-f]{64}/)[0];
    await page.goto(confirm);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Confirm and sign in" }).click();
    await page.waitForURL(/\/account$/);

    await page.goto(`${site.base}/folio/subscribe?plan=quarterly`);
    await page.locator("[name=name]").fill("Caroline Herschel");
    await page.locator("[name=line1]").fill("19 New King Street");
    await page.locator("[name=postal_code]").fill("D02 X285");
    await page.locator("[name=city]").fill("Dublin");
    await page.locator("[name=country]").selectOption("IE");
    await page.getByRole("button", { name: "Continue to payment" }).click();

    // Stripe's page on its own origin, for the plan's price.
    await page.waitForURL((u) => u.href.startsWith(`${standin.url}/c/pay/cs_test_`), { timeout: 10_000 });
    assert.match(await page.locator("#amount").innerText(), /64\.00 EUR/);
    await page.getByRole("button", { name: /^pay$/i }).click();

    // Back at the atelier: running, from Stripe's events.
    await page.waitForURL(/\/account\/folio\?paid=sub_/, { timeout: 10_000 });
    await page.goto(`${site.base}/account/folio`);
    let main = await page.locator("main").innerText();
    assert.match(main, /Running/);
    assert.match(main, /Your next payment, €64\.00 an edition/);
    await mailWith("Welcome to the Folio", email);

    // Pause and resume go to Stripe; the page shows what its events say.
    await page.getByRole("button", { name: "Pause my Folio" }).click();
    main = await page.locator("main").innerText();
    assert.match(main, /Paused until you resume it/);
    await page.getByRole("button", { name: "Resume my Folio" }).click();
    main = await page.locator("main").innerText();
    assert.match(main, /Running/);
    assert.equal((main.match(/Paid/g) || []).length, 1, `one payment: ${main}`);

    // axe on the account's Folio page as Stripe left it.
    const seen = await browser.newContext({ viewport: { width: 390, height: 900 }, bypassCSP: true, storageState: await context.storageState() });
    const p = await seen.newPage();
    await p.goto(`${site.base}/account/folio`);
    assert.deepEqual(await axe(p), []);
    await seen.close();
    await context.close();
  });
});
