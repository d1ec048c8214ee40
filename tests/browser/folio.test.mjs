// The Folio in the browser against `atelier serve` with sandbox payments, on a copy of the site
// whose three editions are dated from today: subscribe without JavaScript → move the sandbox's
// clock past the first edition → its page, its e-mail and its order are there → pause → past the
// second: nothing → resume → past the third: it arrives. Then a gift: its form, its payment and
// the giver's list. axe finds nothing on the Folio's pages.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ATELIER_BIN, ROOT, launchBrowser, startSite } from "./lib.mjs";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const EMAIL = "mary@example.com";
const PASSWORD = "quiet lavender harvest";
const DAY = 86_400_000;

// Calendar months on, as the sandbox bills (a day the month lacks becomes its last).
function addMonths(t, n) {
  const d = new Date(t);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + n);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.getTime();
}
const ymd = (t) => new Date(t).toISOString().slice(0, 10);

// Editions twenty days into the first three quarters from now.
const START = Date.now();
const EDITIONS = [0, 3, 6].map((m, i) => ({
  slug: `trial-edition-${i + 1}`,
  title: `Trial Edition ${["One", "Two", "Three"][i]}`,
  date: ymd(addMonths(START, m) + 20 * DAY),
  essence: ["provence-lavender", "calabrian-bergamot", "atlas-cedarwood"][i],
}));

let root;
let site;
let browser;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "atelier-folio-site-"));
  symlinkSync(join(ROOT, "config.toml"), join(root, "config.toml"));
  symlinkSync(join(ROOT, "themes"), join(root, "themes"));
  cpSync(join(ROOT, "content"), join(root, "content"), { recursive: true });
  for (const e of EDITIONS) {
    writeFileSync(
      join(root, "content", "folio", `${e.slug}.md`),
      `+++\ntitle = "${e.title}"\ndescription = "A trial edition."\ndate = ${e.date}\n\n[extra]\nedition = "${e.title}"\nessences = ["@/compendium/${e.essence}.md"]\n+++\n\nThe ${e.title} holds an essence of the season.\n`,
    );
  }
  [site, browser] = await Promise.all([startSite({ root, demoStock: true }), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

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

async function mailWith(text, to = EMAIL) {
  for (let i = 0; i < 100; i++) {
    const mail = outboxTexts().find((t) => t.includes(text) && t.includes(`To: ${to}`));
    if (mail) return mail;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no mail with "${text}" to ${to} in the outbox`);
}

const mailsWith = (text) => outboxTexts().filter((t) => t.includes(text)).length;

async function axe(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

// `atelier folio advance`: the sandbox's clock moves on, renewals and editions follow.
function advanceTo(t) {
  const days = Math.ceil((t - Date.now()) / DAY) - elapsedDays;
  elapsedDays += days;
  const r = spawnSync(ATELIER_BIN, ["--root", root, "folio", "advance", "--days", String(days)], {
    env: { ...process.env, ATELIER_DATA_DIR: site.data },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}
let elapsedDays = 0;

describe("the Folio", { concurrency: 1 }, () => {
  test("subscribe in the sandbox, receive an edition, pause through one, resume for the next", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 900 }, javaScriptEnabled: false });
    const page = await context.newPage();
    const problems = [];
    // axe runs as a script: in a browser with JavaScript and this one's cookies, at the same
    // address (a form's answer with errors is made there by sending the form again).
    const check = async (what, again, url = page.url()) => {
      const state = await context.storageState();
      const seen = await browser.newContext({ viewport: { width: 390, height: 900 }, bypassCSP: true, storageState: state });
      const p = await seen.newPage();
      await p.goto(url);
      if (again) await again(p);
      problems.push(...(await axe(p)).map((v) => `${what}: ${v}`));
      await seen.close();
    };

    // The Folio's page offers the plan at its price from git.
    await page.goto(`${site.base}/folio/`);
    await check("/folio/");
    await page.getByRole("link", { name: "Subscribe to The Folio" }).click();
    assert.match(await page.locator("main").innerText(), /Sign in to subscribe/);

    // Open an account on the way, then subscribe.
    await page.goto(`${site.base}/account/register`);
    await page.getByLabel("Your name").fill("Mary Somerville");
    await page.getByLabel("E-mail").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Open my account" }).click();
    const confirm = (await mailWith("Confirm your address")).match(/https?:\/\/[^\s"<>]*\/account\/verify\?token=[0-9a-f]{64}/)[0];
    await page.goto(confirm);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Confirm and sign in" }).click();
    await page.waitForURL(/\/account$/);

    await page.goto(`${site.base}/folio/subscribe?plan=quarterly`);
    await check("/folio/subscribe");
    assert.match(await page.locator("main").innerText(), /€64\.00/);
    await page.locator("[name=name]").fill("Mary Somerville");
    await page.locator("[name=line1]").fill("4 Chester Street");
    await page.locator("[name=postal_code]").fill("12");
    await page.locator("[name=city]").fill("Dublin");
    await page.locator("[name=country]").selectOption("IE");
    await page.getByRole("button", { name: "Continue to payment" }).click();
    assert.equal(await page.locator("[name=postal_code]").getAttribute("aria-invalid"), "true");
    await check("/folio/subscribe with errors", async (p) => {
      await p.goto(`${site.base}/folio/subscribe?plan=quarterly`);
      await p.locator("[name=line1]").fill("4 Chester Street");
      await p.locator("[name=city]").fill("Dublin");
      await p.locator("[name=postal_code]").fill("12");
      await p.getByRole("button", { name: "Continue to payment" }).click();
      await p.waitForSelector("[role=alert]");
    });
    await page.locator("[name=postal_code]").fill("D02 X285");
    await page.getByRole("button", { name: "Continue to payment" }).click();
    await page.waitForURL(/\/folio\/pay\/sub_/);
    await check("/folio/pay");
    await page.getByRole("button", { name: "Pay €64.00" }).click();
    await page.waitForURL(/\/account\/folio$/);
    let main = await page.locator("main").innerText();
    assert.match(main, /Running/);
    assert.match(main, new RegExp(`Your next edition, ${EDITIONS[0].title}`));
    await check("/account/folio");
    await mailWith("Welcome to the Folio");

    // Past the first edition's day: its order and its e-mail; its page is on the site.
    assert.match(advanceTo(Date.parse(EDITIONS[0].date) + DAY), new RegExp(`${EDITIONS[0].slug}: 1 orders and e-mails made`));
    const edition = await mailWith(`The ${EDITIONS[0].title} edition of the Folio`);
    assert.match(edition, /holds an essence of the season/);
    await page.goto(`${site.base}/account`);
    assert.match(await page.locator("main").innerText(), /€0\.00/);
    const r = await page.goto(`${site.base}/folio/${EDITIONS[0].slug}/`);
    assert.equal(r.status(), 200);

    // Paused: the second quarter passes unbilled, and its edition does not come.
    await page.goto(`${site.base}/account/folio`);
    await page.getByRole("button", { name: "Pause my Folio" }).click();
    main = await page.locator("main").innerText();
    assert.match(main, /Paused until you resume it/);
    await check("/account/folio paused", null, `${site.base}/account/folio`);
    await mailWith("Your Folio is paused");
    advanceTo(Date.parse(EDITIONS[1].date) + DAY);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(mailsWith(`The ${EDITIONS[1].title} edition of the Folio`), 0, "no edition while paused");

    // Resumed: nothing charged now; the third edition comes.
    await page.goto(`${site.base}/account/folio`);
    await page.getByRole("button", { name: "Resume my Folio" }).click();
    main = await page.locator("main").innerText();
    assert.match(main, /nothing is charged today/);
    assert.equal((main.match(/Paid/g) || []).length, 1, `one payment so far: ${main}`);
    advanceTo(Date.parse(EDITIONS[2].date) + DAY);
    await mailWith(`The ${EDITIONS[2].title} edition of the Folio`);
    assert.equal(mailsWith(`The ${EDITIONS[1].title} edition of the Folio`), 0);
    await page.goto(`${site.base}/account/folio`);
    assert.equal(((await page.locator("main").innerText()).match(/Paid/g) || []).length, 2);
    await context.close();
    assert.deepEqual(problems, []);
  });

  test("give the Folio: the form and its errors, the payment, the giver's list, axe clean", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 900 }, javaScriptEnabled: false });
    const page = await context.newPage();
    const problems = [];
    const check = async (what, url = page.url()) => {
      const seen = await browser.newContext({ viewport: { width: 390, height: 900 }, bypassCSP: true, storageState: await context.storageState() });
      const p = await seen.newPage();
      await p.goto(url);
      problems.push(...(await axe(p)).map((v) => `${what}: ${v}`));
      await seen.close();
    };
    const giver = "ada@example.com";
    await page.goto(`${site.base}/account/register`);
    await page.getByLabel("Your name").fill("Ada Lovelace");
    await page.getByLabel("E-mail").fill(giver);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Open my account" }).click();
    const confirm = (await mailWith("Confirm your address", giver)).match(/https?:\/\/[^\s"<>]*\/account\/verify\?token=[0-9a-f]{64}/)[0];
    await page.goto(confirm);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Confirm and sign in" }).click();
    await page.waitForURL(/\/account$/);

    await page.goto(`${site.base}/folio/`);
    await page.getByRole("link", { name: "Give it as a gift" }).click();
    await page.waitForURL(/\/folio\/gift/);
    await check("/folio/gift");
    await page.getByLabel("Four editions €256.00").check();
    await page.getByLabel("Their full name").fill("Grace Hopper");
    await page.getByLabel("Their e-mail").fill("grace@localhost");
    await page.getByLabel("Their address").fill("2 Quai Voltaire");
    await page.getByLabel("Postal code").fill("75007");
    await page.getByLabel("City").fill("Paris");
    await page.getByLabel("Your message").fill("Happy spring, Grace!");
    await page.getByRole("button", { name: "Continue to payment" }).click();
    assert.equal(await page.locator("[name=recipient_email]").getAttribute("aria-invalid"), "true");
    assert.equal(await page.locator("[name=message]").inputValue(), "Happy spring, Grace!", "what was typed is kept");
    await page.getByLabel("Their e-mail").fill("grace@example.com");
    await page.getByRole("button", { name: "Continue to payment" }).click();
    await page.waitForURL(/\/folio\/gift\/gft_[^/]+\/pay$/);
    await check("/folio/gift/…/pay");
    assert.match(await page.locator("main").innerText(), /Happy spring, Grace!/);
    await page.getByRole("button", { name: "Pay €256.00" }).click();
    await page.waitForURL(/\/account\/folio$/);
    const main = await page.locator("main").innerText();
    assert.match(main, /Folios you have given/);
    assert.match(main, /Grace Hopper: four editions, €256\.00/);
    await check("/account/folio with a gift");
    await mailWith("Your gift of the Folio to Grace Hopper", giver);
    await context.close();
    assert.deepEqual(problems, []);
  });
});
