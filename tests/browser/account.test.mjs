// Customer accounts in the browser against `atelier serve`: open an account with the plain
// form, confirm it from the link in the outbox with its password, sign in with the keyboard alone, see the
// account's page, sign out; the header's link follows; axe finds nothing on any account page.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WIDTHS, axe, fillAddress, launchBrowser, outboxTexts as outboxOf, startSite, totp } from "./lib.mjs";

const EMAIL = "ada@example.com";
const PASSWORD = "quiet lavender harvest";

let site;
let browser;

before(async () => {
  [site, browser] = await Promise.all([startSite(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

const outboxTexts = () => outboxOf(site.data);

async function linkIn(subject, path, to = EMAIL) {
  for (let i = 0; i < 100; i++) {
    const mail = outboxTexts().find((t) => t.includes(subject) && t.includes(`To: ${to}`));
    const m = mail && mail.match(new RegExp(`https?://[^\\s"<>]*${path}\\?token=[0-9a-f]{64}`));
    if (m) return m[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no mail "${subject}" with a ${path} link in the outbox`);
}

// Tab from the top of the page until `selector` has focus (at most 40 presses).
async function tabTo(page, selector) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
  }
  assert.fail(`Tab never reached ${selector}`);
}

describe("customer accounts", { concurrency: 1 }, () => {
  test("register without JavaScript, confirm from the e-mail, sign in by keyboard, sign out", async () => {
    const plain = await browser.newContext({ viewport: { width: 390, height: 900 }, javaScriptEnabled: false });
    let page = await plain.newPage();
    await page.goto(`${site.base}/account/register`);
    await page.getByLabel("Your name").fill("Ada Lovelace");
    await page.getByLabel("E-mail").fill(EMAIL);
    await page.getByLabel("Password").fill("password");
    await page.getByRole("button", { name: "Open my account" }).click();
    // A common password: the field says why, and keeps the name and address.
    assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "true");
    assert.match(await page.locator("#password-error").innerText(), /guessed first/);
    assert.equal(await page.getByLabel("E-mail").inputValue(), EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Open my account" }).click();
    assert.match(await page.locator("main").innerText(), /Check your e-mail/);

    const link = await linkIn("Confirm your address", "/account/verify");
    await page.goto(link);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Confirm and sign in" }).click();
    await page.waitForURL(/\/account$/);
    assert.match(await page.locator("main").innerText(), /Welcome, Ada Lovelace\./);
    await plain.close();

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${site.base}/`);
    const headerLink = page.locator("a[data-account-link]");
    await page.waitForFunction(() => document.querySelector("a[data-account-link]").textContent === "Sign in");
    await headerLink.click();
    await page.waitForURL(/\/account\/sign-in$/);
    await tabTo(page, "#email");
    await page.keyboard.type(EMAIL);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/account$/);
    const text = await page.locator("main").innerText();
    assert.match(text, /Welcome, Ada Lovelace\./);
    assert.match(text, /this browser/);
    await page.goto(`${site.base}/`);
    await page.waitForFunction(() => document.querySelector("a[data-account-link]").textContent === "Account");
    await page.goto(`${site.base}/account`);
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.waitForURL(`${site.base}/`);
    await page.goto(`${site.base}/account`);
    await page.waitForURL(/\/account\/sign-in$/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("register, confirm, sign in with two factors, buy, find the order, order it again", async () => {
    const email = "grace@example.com";
    await site.setStock("LAV-PROV-30", 20);
    const context = await browser.newContext({ viewport: { width: 390, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${site.base}/account/register`);
    await page.getByLabel("Your name").fill("Grace Hopper");
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Open my account" }).click();
    await page.goto(await linkIn("Confirm your address", "/account/verify", email));
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Confirm and sign in" }).click();
    await page.waitForURL(/\/account$/);

    // Two factors on: the key shown beside the QR code gives the codes.
    await page.getByRole("link", { name: /turn on two-factor sign-in/i }).click();
    const secret = (await page.locator("code.secret").innerText()).trim();
    await page.getByLabel("Code").fill(totp(secret));
    await page.getByRole("button", { name: /turn two-factor sign-in on/i }).click();
    assert.equal(await page.locator(".recovery-codes li").count(), 10);
    await page.goto(`${site.base}/account`);
    await page.getByRole("button", { name: "Sign out", exact: true }).click();

    // Signing in asks for the code after the password; the code just used is refused.
    await page.goto(`${site.base}/account/sign-in`);
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/account\/sign-in\/code$/);
    await page.getByLabel("Code").fill(totp(secret, 1));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/account$/);

    // Buy a bottle signed in: the order is in the account's history.
    await page.goto(`${site.base}/compendium/provence-lavender/`);
    await page.locator("input[name=sku][value=LAV-PROV-30]").check();
    await page.getByRole("button", { name: /add to cart/i }).click();
    await page.locator("dialog[open]").getByRole("link", { name: /checkout/i }).click();
    await page.waitForURL(/\/checkout$/);
    await fillAddress(page);
    await page.getByRole("button", { name: /continue to payment/i }).click();
    await page.waitForURL(/\/pay\/cs_sandbox_/);
    await page.getByRole("button", { name: /^pay/i }).click();
    await page.waitForURL(/\/orders\/ord_/);
    const number = (await page.locator("main").innerText()).match(/AA-\d{4}-\d{6}/)[0];
    await page.goto(`${site.base}/account`);
    const history = page.locator(".account-orders__item", { hasText: number });
    assert.match(await history.innerText(), /Paid/);

    // Order it again: back in the cart at today's price.
    await history.getByRole("button", { name: `Order ${number} again` }).click();
    assert.match(await page.locator("main").innerText(), /1 bottle from your order is in your cart/);
    await page.getByRole("link", { name: "See your cart" }).click();
    assert.match(await page.locator("main").innerText(), /Provence Lavender/);
    await context.close();
  });

  test("a guest keeps sizes with and without JavaScript, asks to hear of a sold-out one, and finds them after signing in", async () => {
    await site.setStock("LAV-PROV-30", 20);
    await site.setStock("LAV-PROV-100", 0);
    const errors = [];
    // With JavaScript: kept in place, said in a status line; the sold-out size's form shows.
    const context = await browser.newContext({ viewport: { width: 390, height: 900 } });
    const page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${site.base}/compendium/provence-lavender/`);
    await page.locator("input[name=sku][value=LAV-PROV-30]").check();
    await page.getByRole("button", { name: "Keep in wishlist" }).click();
    await page.getByText("Kept in your wishlist.").waitFor();
    const notify = page.locator("form[data-notify-form]");
    await notify.waitFor({ state: "visible" });
    assert.equal(await notify.locator("option:enabled").count(), 1, "only the sold-out size can be asked for");
    await notify.getByLabel("Your e-mail").fill("bea@example.com");
    await notify.getByRole("button", { name: "Tell me when it is back" }).click();
    await page.getByText(/We will write to bea@example.com once/).waitFor();
    await page.getByRole("link", { name: "See your wishlist" }).click();
    await page.waitForURL(/\/wishlist$/);
    assert.match(await page.locator("main").innerText(), /Provence Lavender[\s\S]*30 ml[\s\S]*In stock/);
    // Without JavaScript: the same button posts the form and comes back to the page.
    const plain = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
    const p2 = await plain.newPage();
    await p2.goto(`${site.base}/compendium/provence-lavender/`);
    await p2.getByRole("button", { name: "Keep in wishlist" }).click();
    await p2.waitForURL(/\/compendium\/provence-lavender\/$/);
    await p2.goto(`${site.base}/wishlist`);
    assert.equal(await p2.locator(".wishlist .cart-line").count(), 1, "kept twice, listed once");
    await p2.getByRole("button", { name: /^Add to cart/ }).click();
    await p2.waitForURL(/\/cart/);
    assert.match(await p2.locator("main").innerText(), /Provence Lavender/);
    await plain.close();
    // Back in stock: one message to the address that asked.
    await site.setStock("LAV-PROV-100", 5);
    let told = [];
    for (let i = 0; i < 100 && !told.length; i++) {
      told = outboxTexts().filter((t) => t.includes("To: bea@example.com") && t.includes("Back in stock"));
      if (!told.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(told.length, 1, "one message when the size is back");
    // Signing in brings the browser's wishlist into the account.
    await page.goto(`${site.base}/account/sign-in`);
    await page.getByLabel("E-mail").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/account$/);
    assert.match(await page.locator("#wishlist-title + p").innerText(), /1 size kept: Provence Lavender, 30 ml/);
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("the account pages have no accessibility violations, on a phone and a desk", async () => {
    const problems = [];
    for (const width of WIDTHS) {
      const context = await browser.newContext({ viewport: { width, height: 900 }, bypassCSP: true });
      const page = await context.newPage();
      for (const path of ["/account/sign-in", "/account/register", "/account/forgot", "/account/reset?token=x", "/account/verify?token=x", "/account/email/confirm?token=x"]) {
        await page.goto(site.base + path);
        problems.push(...(await axe(page)).map((v) => `${width}px ${path}: ${v}`));
      }
      // A form answered with errors, and the signed-in page.
      await page.goto(`${site.base}/account/sign-in`);
      await page.getByLabel("E-mail").fill(EMAIL);
      await page.getByLabel("Password").fill("not the password");
      await page.getByRole("button", { name: "Sign in" }).click();
      assert.match(await page.locator("[role=alert]").innerText(), /do not match an account/);
      problems.push(...(await axe(page)).map((v) => `${width}px sign-in with errors: ${v}`));
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/account$/);
      problems.push(...(await axe(page)).map((v) => `${width}px /account: ${v}`));
      for (const path of ["/account/details", "/account/addresses", "/wishlist"]) {
        await page.goto(site.base + path);
        problems.push(...(await axe(page)).map((v) => `${width}px ${path}: ${v}`));
        const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
        assert.equal(wide, false, `${path} fits ${width}px`);
      }
      await page.goto(`${site.base}/account/two-factor`);
      assert.match(await page.locator("main").innerText(), /scan this code/);
      problems.push(...(await axe(page)).map((v) => `${width}px /account/two-factor: ${v}`));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(overflow, false, `the account page fits ${width}px`);
      await context.close();
    }
    assert.deepEqual(problems, []);
  });
});
