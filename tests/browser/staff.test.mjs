// A day at the atelier, in the browser against `atelier serve`: the first owner is added from
// the command line and answers the invitation → turns two factors on → invites a fulfilment
// clerk from the team page → the clerk answers, is told two factors are needed, turns them on
// → prints the pick list → ships two orders with tracking, one by keyboard alone → a manager
// refunds one, a bottle back on the shelf → the owner's audit log shows it all. axe finds nothing on the console's pages.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { ATELIER_BIN, ROOT, axe, launchBrowser, outboxTexts, startSite, totp } from "./lib.mjs";

const PASSWORD = "quiet lavender harvest";
const OWNER = "odile@example.com";
const CLERK = "claude@example.com";
const MANAGER = "margot@example.com";

let site;
let browser;

before(async () => {
  [site, browser] = await Promise.all([startSite({ demoStock: true }), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

async function inviteLink(to) {
  for (let i = 0; i < 100; i++) {
    const mail = outboxTexts(site.data).find((t) => t.includes("JOIN THE ATELIER'S STAFF") && t.includes(`To: ${to}`));
    const m = mail && mail.match(/https?:\/\/[^\s"<>]*\/account\/reset\?token=[0-9a-f]{64}/);
    if (m) return new URL(m[0]).pathname + new URL(m[0]).search;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no invitation to ${to} in the outbox`);
}

// Answers an invitation, signs in, and turns two factors on; the page, signed in.
async function join(context, email) {
  const page = await context.newPage();
  await page.goto(site.base + (await inviteLink(email)));
  await page.getByLabel("New password").fill(PASSWORD);
  await page.getByRole("button", { name: "Change my password" }).click();
  await page.goto(`${site.base}/account/sign-in`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/\/account$/);
  assert.match(await page.locator("main").innerText(), /You are on the atelier's staff/);
  // Without two factors the console says how to get in.
  const refused = await page.goto(`${site.base}/staff`);
  assert.equal(refused.status(), 403);
  assert.match(await page.locator("main").innerText(), /Two factors needed/);
  await page.getByRole("link", { name: "Two-factor sign-in" }).click();
  const secret = (await page.locator("code.secret").innerText()).trim();
  await page.getByLabel("Code").fill(totp(secret));
  await page.getByRole("button", { name: /turn two-factor sign-in on/i }).click();
  assert.equal(await page.locator(".recovery-codes li").count(), 10);
  const home = await page.goto(`${site.base}/staff`);
  assert.equal(home.status(), 200);
  return page;
}

// A paid order through the shop's API and the sandbox's payment page; its number.
async function paidOrder(email) {
  const add = await fetch(`${site.base}/api/cart/items`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sku: "LAV-PROV-30", quantity: 1 }),
  });
  assert.equal(add.status, 200);
  const cookie = add.headers.get("set-cookie").split(";")[0];
  const address = {
    email, name: "Ada Lovelace", line1: "1 rue des Fleurs", city: "Grasse", postal_code: "06130", country: "FR",
    shipping_method: "standard",
  };
  const started = await fetch(`${site.base}/api/checkout`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify(address),
  });
  const body = await started.text();
  assert.equal(started.status, 201, body);
  const { payment_url, number } = JSON.parse(body);
  const paid = await fetch(new URL(payment_url, site.base), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "action=pay",
    redirect: "manual",
  });
  assert.equal(paid.status, 303);
  return number;
}

// STAFF_SHOTS=folder keeps a full-page screenshot of every page checked (for looking at them).
async function noViolations(page, what) {
  if (process.env.STAFF_SHOTS) {
    const width = page.viewportSize().width;
    await page.screenshot({ path: `${process.env.STAFF_SHOTS}/${what.replace(/\W+/g, "-")}-${width}.png`, fullPage: true });
  }
  const found = await axe(page);
  assert.deepEqual(found, [], `${what}: ${found.join("\n")}`);
}

// The owner's pages are read on a desk and on a phone: axe (and the screenshot) at both widths.
async function atBothWidths(page, what) {
  await noViolations(page, what);
  await page.setViewportSize({ width: 390, height: 900 });
  await noViolations(page, what);
  await page.setViewportSize({ width: 1280, height: 900 });
}

describe("the staff console", { concurrency: 1 }, () => {
  test("a day at the atelier: invite, two factors, pick list, shipping, a refund, audit", async () => {
    const added = spawnSync(
      ATELIER_BIN,
      ["--root", ROOT, "staff", "add", "--role", "owner", "--name", "Odile Marchand", OWNER],
      { env: { ...process.env, ATELIER_DATA_DIR: site.data, USER: "setup" }, encoding: "utf8" },
    );
    assert.equal(added.status, 0, added.stderr);
    const ownerContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    const owner = await join(ownerContext, OWNER);
    await noViolations(owner, "console home");

    // The owner invites a fulfilment clerk.
    await owner.getByRole("navigation", { name: "Staff console" }).getByRole("link", { name: "Team" }).click();
    await owner.getByLabel("E-mail").fill(CLERK);
    await owner.getByLabel(/^Name/).fill("Claude Petit");
    await owner.getByLabel("Role", { exact: true }).selectOption("fulfilment");
    await owner.getByRole("button", { name: "Add to the staff" }).click();
    assert.match(await owner.locator("main").innerText(), /an invitation to choose a password is on its way/);
    await noViolations(owner, "team");

    const first = await paidOrder("first@example.com");
    const second = await paidOrder("second@example.com");

    const clerkContext = await browser.newContext({ viewport: { width: 390, height: 900 }, bypassCSP: true });
    const clerk = await join(clerkContext, CLERK);
    const menu = await clerk.getByRole("navigation", { name: "Staff console" }).innerText();
    assert.match(menu, /Orders/);
    assert.doesNotMatch(menu, /Team|Audit/, "the menu shows only what a clerk may open");
    assert.equal((await clerk.goto(`${site.base}/staff/audit`)).status(), 403);

    // The pick list: both orders' bottles, then a slip for each, one to a printed page.
    await clerk.goto(`${site.base}/staff/pick-list`);
    const list = await clerk.locator("main").innerText();
    assert.match(list, /2 paid orders to pack, 2 bottles/);
    assert.ok(list.includes(`Packing slip · order ${first}`) && list.includes(`Packing slip · order ${second}`));
    await noViolations(clerk, "pick list");
    await clerk.emulateMedia({ media: "print" });
    assert.equal(await clerk.locator(".staff-nav").isVisible(), false, "the menu is not printed");
    assert.equal(
      await clerk.locator(".packing-slip").first().evaluate((e) => getComputedStyle(e).breakBefore),
      "page",
    );
    await clerk.emulateMedia({ media: "screen" });

    // The first order shipped with the mouse, the second by keyboard alone.
    await clerk.goto(`${site.base}/staff/orders/${first}`);
    await noViolations(clerk, "order");
    await clerk.getByLabel(/Tracking reference/).fill("LA100000001FR");
    await clerk.getByRole("button", { name: "Mark as shipped" }).click();
    assert.match(await clerk.locator("main").innerText(), /Marked as shipped; the shopper has been e-mailed\./);
    await clerk.goto(`${site.base}/staff/orders?q=${encodeURIComponent(second)}`);
    await noViolations(clerk, "orders");
    await clerk.keyboard.press("Tab");
    for (let i = 0; i < 60; i++) {
      if (await clerk.evaluate((n) => document.activeElement?.textContent === n, second)) break;
      await clerk.keyboard.press("Tab");
    }
    await clerk.keyboard.press("Enter");
    await clerk.waitForURL(new RegExp(`/staff/orders/${second}$`));
    for (let i = 0; i < 80; i++) {
      if (await clerk.evaluate(() => document.activeElement?.id === "tracking")) break;
      await clerk.keyboard.press("Tab");
    }
    await clerk.keyboard.type("LA100000002FR");
    await clerk.keyboard.press("Enter");
    await clerk.waitForURL(/\?done=ship$/);
    assert.match(await clerk.locator("main").innerText(), /Shipped, tracking LA100000002FR/);
    const shipped = () => outboxTexts(site.data).filter((t) => /Subject: Your order .* is on its way/.test(t));
    for (let i = 0; i < 100 && shipped().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(shipped().length, 2, "both shoppers are told");

    // A manager (added at the command line) refunds the first order, one bottle back on the shelf.
    const manager = spawnSync(
      ATELIER_BIN,
      ["--root", ROOT, "staff", "add", "--role", "manager", "--name", "Margot Roux", MANAGER],
      { env: { ...process.env, ATELIER_DATA_DIR: site.data, USER: "setup" }, encoding: "utf8" },
    );
    assert.equal(manager.status, 0, manager.stderr);
    const managerContext = await browser.newContext({ viewport: { width: 390, height: 900 }, bypassCSP: true });
    const margot = await join(managerContext, MANAGER);
    await margot.goto(`${site.base}/staff/orders/${first}`);
    await noViolations(margot, "order with its refund form");
    await margot.getByLabel(/Provence Lavender/).fill("1");
    await margot.getByLabel(/^Why/).fill("The parcel came back unopened");
    await margot.getByRole("button", { name: "Refund", exact: true }).click();
    await margot.waitForURL(/\?done=refund$/);
    const refunded = await margot.locator("main").innerText();
    assert.match(refunded, /Refunded: the payment provider confirmed it and the shopper has been e-mailed\./);
    assert.match(refunded, /Order .* · Refunded/);
    assert.match(refunded, /back on the shelf: LAV-PROV-30 × 1/);
    await noViolations(margot, "order refunded");
    const told = () => outboxTexts(site.data).filter((t) => /Subject: A refund of .* for your order/.test(t));
    for (let i = 0; i < 100 && told().length < 1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(told().length, 1, "the shopper is told");
    assert.match(told()[0], /refunded in full/);
    await managerContext.close();

    // The owner's audit log has the whole day, who and what.
    await owner.goto(`${site.base}/staff/audit`);
    const log = await owner.locator("main").innerText();
    for (const seen of [
      "staff.add", "staff.sign_in", "order.ship", "order.refund", CLERK, MANAGER, "setup (command line)",
      `order:${first}`, `order:${second}`,
    ]) {
      assert.ok(log.includes(seen), `the audit log shows ${seen}:\n${log}`);
    }
    await noViolations(owner, "audit log");
    await owner.goto(`${site.base}/staff/roles`);
    await noViolations(owner, "roles");
    await owner.goto(`${site.base}/staff/stock`);
    await noViolations(owner, "stock");

    // The rest of the console, each page checked by axe: the dashboard, a customer, a supplier
    // and a purchase order drafted from the reorder suggestions, a testimonial, the newsletter.
    await owner.goto(`${site.base}/staff/dashboard`);
    assert.match(await owner.locator("main").innerText(), /Revenue by day, the last 90 days/);
    assert.equal(await owner.locator("svg.chart").count(), 2);
    await atBothWidths(owner, "dashboard");
    await owner.goto(`${site.base}/staff/customers?q=first%40`);
    await owner.getByRole("link", { name: "first@example.com" }).click();
    assert.match(await owner.locator("main").innerText(), new RegExp(first));
    await atBothWidths(owner, "customer");
    await owner.goto(`${site.base}/staff/purchase-orders`);
    await owner.getByLabel(/^Name/).fill("Distillerie du Lubéron");
    await owner.getByLabel(/^E-mail/).fill("orders@luberon.example");
    await owner.getByRole("button", { name: "Add the supplier" }).click();
    assert.match(await owner.locator("main").innerText(), /Supplier added\./);
    await atBothWidths(owner, "purchase orders");
    await owner.getByRole("link", { name: "Draft a purchase order" }).click();
    await noViolations(owner, "new purchase order");
    await owner.getByLabel(/Provence Lavender, 30 ml/).fill("24");
    await owner.getByRole("button", { name: "Draft the order" }).click();
    await owner.waitForURL(/\/staff\/purchase-orders\/PO-/);
    // Changed before it goes: thirty bottles, and a word for the supplier.
    await owner.getByLabel(/Bottles of Provence Lavender, 30 ml to order/).fill("30");
    await owner.getByLabel(/^Note to the supplier/).fill("Before the harvest, please.");
    await owner.getByRole("button", { name: "Save the draft" }).click();
    assert.match(await owner.locator("main").innerText(), /The draft is saved\./);
    assert.equal(await owner.getByLabel(/Bottles of Provence Lavender, 30 ml to order/).inputValue(), "30");
    await atBothWidths(owner, "purchase order draft");
    await owner.getByRole("button", { name: /^Save and send to/ }).click();
    await owner.getByRole("button", { name: "Receive these bottles" }).click();
    assert.match(await owner.locator("main").innerText(), /Received: the bottles are on the shelf/);
    await atBothWidths(owner, "purchase order");
    await owner.goto(`${site.base}/staff/testimonials`);
    await owner.getByLabel(/^Who said it/).fill("Mme Roux");
    await owner.getByLabel(/^What they said/).fill("Like a walk at dusk in Grasse.");
    await owner.getByLabel("Show it on the home page").check();
    await owner.getByRole("button", { name: "Write it down" }).click();
    assert.match(await owner.locator("main").innerText(), /Like a walk at dusk in Grasse\./);
    await atBothWidths(owner, "testimonials");
    await owner.goto(`${site.base}/staff/subscribers`);
    await atBothWidths(owner, "newsletter");
    await ownerContext.close();
    await clerkContext.close();
  });
});
