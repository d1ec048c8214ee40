// Buying a bottle end to end against `atelier serve`: browse → add to cart (with JavaScript,
// and again with it off) → checkout → sandbox payment → confirmation page → e-mail in the
// outbox → stock decreased.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ATELIER_BIN, ROOT, fillAddress, launchBrowser, startSite } from "./lib.mjs";

const SKU = "LAV-PROV-30";
let site;
let browser;

before(async () => {
  [site, browser] = await Promise.all([startSite(), launchBrowser()]);
  const r = spawnSync(ATELIER_BIN, ["--root", ROOT, "stock", "set", SKU, "5"], { env: { ...process.env, ATELIER_DATA_DIR: site.data }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

async function available() {
  const r = await fetch(`${site.base}/api/stock?sku=${SKU}`);
  return (await r.json()).items[SKU].available;
}

// The badge endpoint answers from a cache that lives one second: wait for the new level.
async function availableBecomes(expected) {
  let now;
  for (let i = 0; i < 30; i++) {
    now = await available();
    if (now === expected) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
  return now;
}

function outboxMails() {
  const dir = join(site.data, "outbox");
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".eml")).map((f) => readFileSync(join(dir, f), "utf8"));
  } catch {
    return [];
  }
}

async function fillCheckout(page) {
  await fillAddress(page);
  await page.getByRole("button", { name: /continue to payment/i }).click();
  await page.waitForURL(/\/pay\/cs_sandbox_/);
}

async function payAndConfirm(page) {
  await page.getByRole("button", { name: /^pay/i }).click();
  await page.waitForURL(/\/orders\/ord_/);
  const text = await page.locator("main").innerText();
  assert.match(text, /AA-\d{4}-\d{6}/, "the order number is shown");
  assert.match(text, /paid/i, "the order is paid");
  return text.match(/AA-\d{4}-\d{6}/)[0];
}

async function mailFor(number) {
  for (let i = 0; i < 50; i++) {
    const m = outboxMails().find((t) => t.includes(number));
    if (m) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

describe("buying a bottle", { concurrency: 1 }, () => {
  test("with JavaScript: the cart drawer, checkout, sandbox payment, e-mail, stock", async () => {
    const before = await available();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${site.base}/compendium/provence-lavender/`);
    await page.locator(`input[name=sku][value=${SKU}]`).check();
    await page.getByRole("button", { name: /add to cart/i }).click();
    const drawer = page.locator("dialog[open]");
    await drawer.waitFor({ state: "visible" });
    assert.match(await drawer.innerText(), /Provence Lavender/);
    assert.match(await page.locator("[data-cart-count]").first().innerText(), /1/);
    await drawer.getByRole("link", { name: /checkout/i }).click();
    await page.waitForURL(/\/checkout$/);
    await fillCheckout(page);
    const number = await payAndConfirm(page);
    const mail = await mailFor(number);
    assert.ok(mail, `a confirmation for ${number} is in the outbox`);
    assert.match(mail, /ada@example\.com/);
    assert.equal(await availableBecomes(before - 1), before - 1, "the stock went down by the bottle sold");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("without JavaScript: the plain forms do the same", async () => {
    const before = await available();
    const context = await browser.newContext({ viewport: { width: 390, height: 900 }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${site.base}/compendium/provence-lavender/`);
    await page.locator(`input[name=sku][value=${SKU}]`).check();
    await page.locator("input[name=quantity]").fill("2");
    await page.getByRole("button", { name: /add to cart/i }).click();
    await page.waitForURL(/\/cart\?added=1$/);
    assert.match(await page.locator("main").innerText(), /Provence Lavender/);
    await page.getByRole("link", { name: /checkout/i }).last().click();
    await page.waitForURL(/\/checkout$/);
    await fillCheckout(page);
    const number = await payAndConfirm(page);
    assert.ok(await mailFor(number), `a confirmation for ${number} is in the outbox`);
    assert.equal(await availableBecomes(before - 2), before - 2);
    await context.close();
  });
});
