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
  await site.setStock(SKU, 20);
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

describe("a checkout that adds up and helps", { concurrency: 1 }, () => {
  // A cart of one 30 ml bottle (under the free-shipping threshold, so the method matters).
  async function cartOfOne(javaScriptEnabled, width = 390) {
    const context = await browser.newContext({ viewport: { width, height: 844 }, javaScriptEnabled });
    const page = await context.newPage();
    const r = await page.request.post(`${site.base}/api/cart/items`, { data: { sku: SKU, quantity: 1 } });
    assert.equal(r.status(), 200, await r.text());
    await page.goto(`${site.base}/checkout`);
    return { context, page };
  }
  const total = (page) => page.locator("[data-total=total]").innerText();
  const shipping = (page) => page.locator("[data-total=shipping]").innerText();

  for (const javaScriptEnabled of [true, false]) {
    test(`the total follows the shipping chosen and equals the pay page's (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async () => {
      const { context, page } = await cartOfOne(javaScriptEnabled);
      try {
        const standard = await total(page);
        await fillAddress(page);
        await page.locator("input[name=shipping_method][value=express]").check();
        if (javaScriptEnabled) {
          await page.waitForFunction((was) => document.querySelector("[data-total=total]").textContent !== was, standard);
        } else {
          await page.getByRole("button", { name: /update the total/i }).click();
          await page.waitForURL(/\/checkout\/recalculate$/);
          assert.equal(await page.locator("input[name=shipping_method][value=express]").isChecked(), true);
          assert.equal(await page.locator("input[name=postal_code]").inputValue(), "06130", "the form keeps what was typed");
        }
        const express = await total(page);
        assert.notEqual(express, standard, "the total changed with the method");
        assert.notEqual(await shipping(page), "€0.00");
        // On a phone the total comes before the button that pays it.
        const [sum, pay] = await Promise.all(
          [".summary .totals__total", "button:has-text('Continue to payment')"].map((s) =>
            page.locator(s).evaluate((e) => e.getBoundingClientRect().top),
          ),
        );
        assert.ok(sum < pay, "the summary is above the button");
        await page.getByRole("button", { name: /continue to payment/i }).click();
        await page.waitForURL(/\/pay\/cs_sandbox_/);
        assert.match(await page.locator("main").innerText(), new RegExp(express.replace(/[.$]/g, "\\$&")), `the pay page asks ${express}`);
      } finally {
        await context.close();
      }
    });
  }

  test("errors: a linked summary, focused; each field marked and told; a French postcode checked", async () => {
    const { context, page } = await cartOfOne(false);
    try {
      await fillAddress(page);
      await page.locator("[name=postal_code]").fill("ABC");
      await page.locator("[name=email]").fill("");
      await page.getByRole("button", { name: /continue to payment/i }).click();
      await page.waitForLoadState("load");
      assert.match(await page.title(), /^Error: /);
      const summary = page.locator(".alert");
      assert.equal(await summary.evaluate((e) => e === document.activeElement), true, "the summary has the focus");
      for (const field of ["email", "postal_code"]) {
        const link = summary.locator(`a[href="#${field}"]`);
        assert.equal(await link.count(), 1, `the summary links to #${field}`);
        const input = page.locator(`#${field}`);
        assert.equal(await input.getAttribute("aria-invalid"), "true");
        const described = (await input.getAttribute("aria-describedby")).split(" ");
        assert.ok(described.includes(`${field}-error`), `#${field} is described by its message`);
        assert.ok((await page.locator(`#${field}-error`).innerText()).length > 5);
      }
      await summary.locator('a[href="#postal_code"]').click();
      assert.equal(await page.locator("#postal_code").evaluate((e) => e === document.activeElement), true, "the link takes the focus to the field");
      assert.equal(await page.locator("#city").getAttribute("aria-invalid"), null, "a good field is not marked");
    } finally {
      await context.close();
    }
  });

  test("at 390 px each shipping price stays level with its method's name, at the right", async () => {
    const { context, page } = await cartOfOne(true);
    try {
      const rows = await page.locator(".choice label").evaluateAll((labels) =>
        labels.map((l) => {
          const [name, price] = l.children;
          const n = name.getBoundingClientRect();
          const p = price.getBoundingClientRect();
          return { name: name.innerText, nameTop: n.top, priceTop: p.top, priceRight: p.right, right: l.getBoundingClientRect().right };
        }),
      );
      assert.ok(rows.length >= 2, "the methods are listed");
      for (const r of rows) {
        assert.ok(Math.abs(r.priceTop - r.nameTop) < 4, `${r.name}: the price sits on a line of its own`);
        assert.ok(Math.abs(r.priceRight - r.right) < 2, `${r.name}: the price is not at the right`);
      }
    } finally {
      await context.close();
    }
  });
});
