// Customer accounts in the browser against `atelier serve`: open an account with the plain
// form, confirm it from the link in the outbox with its password, sign in with the keyboard alone, see the
// account's page, sign out; the header's link follows; axe finds nothing on any account page.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WIDTHS, launchBrowser, startSite } from "./lib.mjs";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
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

// The text of the outbox's messages (quoted-printable soft breaks joined, `=3D` read).
function outboxTexts() {
  const dir = join(site.data, "outbox");
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".eml"))
      .map((f) => readFileSync(join(dir, f), "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "="));
  } catch {
    return [];
  }
}

async function linkIn(subject, path) {
  for (let i = 0; i < 100; i++) {
    const mail = outboxTexts().find((t) => t.includes(subject));
    const m = mail && mail.match(new RegExp(`https?://[^\\s"<>]*${path}\\?token=[0-9a-f]{64}`));
    if (m) return m[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no mail "${subject}" with a ${path} link in the outbox`);
}

async function axe(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
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

  test("the account pages have no accessibility violations, on a phone and a desk", async () => {
    const problems = [];
    for (const width of WIDTHS) {
      const context = await browser.newContext({ viewport: { width, height: 900 }, bypassCSP: true });
      const page = await context.newPage();
      for (const path of ["/account/sign-in", "/account/register", "/account/forgot", "/account/reset?token=x", "/account/verify?token=x"]) {
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
