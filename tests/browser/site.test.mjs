// The storefront in headless Chromium: every page type at 390 px and 1280 px.
// Run with `npm test` in tests/browser (see README.md).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { FileSystemConfigLoader, HtmlValidate } from "html-validate";
import {
  HERE,
  PAGES,
  ROOT,
  WIDTHS,
  essenceTaxonomies,
  isDevPath,
  isServicePath,
  launchBrowser,
  mapLimit,
  startSite,
} from "./lib.mjs";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const PAGE_BUDGET = 50 * 1024; // HTML + CSS + JS of one page, gzipped
const FONTS_BUDGET = 60 * 1024; // the same with the web fonts it loads (woff2, compressed already)
const SCRIPT_BUDGET = 10 * 1024; // every script of the site together, gzipped
const KB = (n) => (n / 1024).toFixed(1);
const gz = (buf) => gzipSync(buf, { level: 9 }).length;

let site;
let browser;
const linkStatus = new Map(); // absolute URL (no hash) → Promise<status>, so each is fetched once
const serviceLinks = new Set(); // links into the checkout service, seen on any page
const scripts = new Map(); // script URL → bytes, from every page load
const weights = new Map(); // page name → { html, css, js, total } gzipped bytes

before(async () => {
  [site, browser] = await Promise.all([startSite(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

function statusOf(url) {
  if (!linkStatus.has(url)) {
    linkStatus.set(
      url,
      fetch(url, { redirect: "follow", signal: AbortSignal.timeout(10_000) }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        (e) => `error: ${e.message}`,
      ),
    );
  }
  return linkStatus.get(url);
}

// Open `path` in a fresh context of the given width; watch console, errors and requests.
async function open(path, { width, javaScriptEnabled = true, expectStatus = 200 } = {}) {
  // The shop's CSP forbids inline scripts, the test's own axe-core injection included: these
  // contexts bypass it; "content security policy" below loads every page with it enforced.
  const context = await browser.newContext({ viewport: { width, height: 900 }, javaScriptEnabled, bypassCSP: true });
  const page = await context.newPage();
  const problems = [];
  const bodies = [];
  let closed = false;
  // Counted when a navigation's request is sent, not when it commits: the page being left
  // cancels its last loads (the favicon) before the next one commits.
  let navigations = 0;
  page.on("request", (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) navigations++;
  });
  const url = site.base + path;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // Chromium reports the document's own 404 as a console error; that one is expected on the 404 page.
    if (expectStatus === 404 && m.location().url === url && /status of 404/.test(m.text())) return;
    problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (closed) return;
    // Leaving a page cancels what it still loads (the favicon, a late font): not a failure.
    if (navigations > 1 && r.failure()?.errorText === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on("response", (r) => {
    const req = r.request();
    const u = new URL(r.url());
    const isDoc = req.resourceType() === "document" && r.url() === url;
    if (r.status() >= 400 && !(isDoc && r.status() === expectStatus)) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    const type = req.resourceType();
    if (["document", "stylesheet", "script", "font"].includes(type) && u.origin === site.base && !isDevPath(u.pathname)) {
      bodies.push(r.body().then((b) => ({ type, url: r.url(), bytes: b }), () => null));
    }
  });
  const response = await page.goto(url, { waitUntil: "load" });
  assert.equal(response.status(), expectStatus, `${path} answered ${response.status()}`);
  return {
    page,
    context,
    problems,
    async resources() {
      return (await Promise.all(bodies)).filter(Boolean);
    },
    async close() {
      closed = true;
      await context.close();
    },
  };
}

// Every same-origin URL the page refers to (links, stylesheets, scripts, images, icons).
function collectRefs(page) {
  return page.evaluate(() => {
    const out = new Set();
    const add = (v) => {
      if (!v) return;
      try {
        const u = new URL(v, document.baseURI);
        if (u.origin !== location.origin) return;
        u.hash = "";
        if (u.href === location.href.split("#")[0]) return; // a fragment of this very page
        out.add(u.href);
      } catch {}
    };
    document.querySelectorAll("a[href], area[href], link[href]").forEach((e) => add(e.getAttribute("href")));
    document.querySelectorAll("[src]").forEach((e) => add(e.getAttribute("src")));
    document.querySelectorAll("[srcset]").forEach((e) =>
      e.getAttribute("srcset").split(",").forEach((c) => add(c.trim().split(/\s+/)[0])),
    );
    document.querySelectorAll("form[action]").forEach((e) => {
      if ((e.getAttribute("method") || "get").toLowerCase() === "get") add(e.getAttribute("action"));
    });
    return [...out];
  });
}

// Tab through the page: every focusable element must receive focus, each with a visible
// focus indicator (its outline or box-shadow, or that of its ::after/::before or of one of
// its four nearest ancestors, e.g. a card styled with :focus-within, differs from the
// unfocused state). Focus changes are logged in the page, so a Tab costs one round trip.
async function keyboardWalk(page) {
  const expected = await page.evaluate(() => {
    const sel =
      'a[href], area[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable="true"], [contenteditable=""], audio[controls], video[controls]';
    const ring = (s) => `${s.outlineStyle}|${s.outlineWidth}|${s.outlineColor}|${s.boxShadow}`;
    const sig = (el) => {
      const chain = [ring(getComputedStyle(el)), ring(getComputedStyle(el, "::after")), ring(getComputedStyle(el, "::before"))];
      for (let a = el.parentElement, i = 0; a && i < 4; a = a.parentElement, i++) chain.push(ring(getComputedStyle(a)));
      return chain;
    };
    const list = [];
    const radios = new Map();
    for (const el of document.querySelectorAll(sel)) {
      if (el.matches(":disabled") || el.closest("[inert]")) continue;
      if (el.tabIndex < 0) continue;
      if (el.localName === "input" && el.type === "hidden") continue;
      // Visually hidden controls (a skip link) still count: they must show up when focused.
      if (!el.checkVisibility({ visibilityProperty: true }) && !el.matches(".skip-link, .visually-hidden")) continue;
      if (el.localName === "input" && el.type === "radio" && el.name) {
        const key = (el.form?.id || "") + "\u0000" + el.name;
        if (radios.has(key)) {
          el.dataset.kbIndex = radios.get(key); // one Tab stop per radio group
          continue;
        }
        radios.set(key, String(list.length));
      }
      el.dataset.kbIndex = String(list.length);
      const text = (el.textContent || el.value || el.getAttribute("aria-label") || "").trim().replace(/\s+/g, " ");
      list.push({
        index: list.length,
        label: `<${el.localName}${el.id ? "#" + el.id : ""}> ${(el.getAttribute("href") || el.getAttribute("name") || "").slice(0, 60)} “${text.slice(0, 40)}”`,
        before: sig(el),
      });
    }
    window.__kbLog = [];
    document.addEventListener(
      "focusin",
      (e) => {
        const el = e.target;
        // Let :focus-visible and :focus-within apply before reading the styles.
        window.__kbLog.push({ index: el.dataset?.kbIndex === undefined ? null : Number(el.dataset.kbIndex), after: sig(el) });
      },
      true,
    );
    return list;
  });
  const seen = () => page.evaluate(() => window.__kbLog.length);
  for (let i = 0; i < expected.length + 2; i++) {
    await page.keyboard.press("Tab");
    // Stop early once focus wraps round to the first stop again.
    if (i >= expected.length && (await seen()) > expected.length) break;
  }
  const log = await page.evaluate(() => window.__kbLog);
  const reached = new Map();
  for (const entry of log) if (entry.index !== null && !reached.has(entry.index)) reached.set(entry.index, entry.after);
  const visible = (r) => {
    const [style, width, , shadow] = r.split("|");
    return (style !== "none" && parseFloat(width) > 0) || (shadow && shadow !== "none");
  };
  const problems = [];
  for (const e of expected) {
    const after = reached.get(e.index);
    if (!after) problems.push(`not reachable by Tab: ${e.label}`);
    else if (!after.some((r, k) => r !== e.before[k] && visible(r))) problems.push(`no visible focus indicator: ${e.label}`);
  }
  return { count: expected.length, problems };
}

// Page loads run side by side (one browser, a context each); the budgets come after.
describe("storefront", { concurrency: 4 }, () => {
  for (const width of WIDTHS) {
    for (const p of PAGES) {
      test(`${p.name} (${p.path}) at ${width} px`, async (t) => {
        const view = await open(p.path, { width, expectStatus: p.status ?? 200 });
        const { page } = view;
        try {
          const problems = view.problems;

          // No sideways scrolling on a phone or a desktop.
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          if (overflow > 0) problems.push(`page is ${overflow}px wider than the viewport`);

          // Internal links and images answer 200.
          for (const ref of await collectRefs(page)) {
            const u = new URL(ref);
            if (isDevPath(u.pathname)) continue;
            if (isServicePath(u.pathname)) {
              serviceLinks.add(ref);
              continue;
            }
            const status = await statusOf(ref);
            if (status !== 200) problems.push(`broken link: ${u.pathname}${u.search} → ${status}`);
          }

          // axe-core: no violations.
          await page.addScriptTag({ content: AXE_SOURCE });
          const axe = await page.evaluate(async () => {
            const r = await window.axe.run(document, { resultTypes: ["violations"] });
            return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
          });
          problems.push(...axe.map((v) => `axe: ${v}`));

          // Keyboard: Tab reaches every control, with visible focus.
          const kb = await keyboardWalk(page);
          problems.push(...kb.problems);

          // Weight of HTML + CSS + JS, gzipped, as fetched.
          const res = await view.resources();
          const w = { html: 0, css: 0, js: 0, fonts: 0 };
          for (const r of res) {
            if (r.type === "font") {
              w.fonts += r.bytes.length;
              continue;
            }
            const size = gz(r.bytes);
            if (r.type === "document") w.html += size;
            else if (r.type === "stylesheet") w.css += size;
            else {
              w.js += size;
              scripts.set(r.url, r.bytes);
            }
          }
          w.total = w.html + w.css + w.js;
          weights.set(p.name, w);
          t.diagnostic(
            `${p.name}: ${KB(w.total)} KB gz (html ${KB(w.html)}, css ${KB(w.css)}, js ${KB(w.js)}), ${KB(w.total + w.fonts)} KB with fonts ${KB(w.fonts)}; ${kb.count} focusable elements`,
          );
          if (w.total > PAGE_BUDGET) problems.push(`page weighs ${KB(w.total)} KB gzipped (budget ${KB(PAGE_BUDGET)} KB)`);
          if (w.total + w.fonts > FONTS_BUDGET) {
            problems.push(`page weighs ${KB(w.total + w.fonts)} KB with its fonts (budget ${KB(FONTS_BUDGET)} KB)`);
          }

          assert.deepEqual(problems, [], `${p.path} at ${width}px:\n  ${problems.join("\n  ")}`);
        } finally {
          await view.close();
        }
      });
    }
  }

  const loader = new FileSystemConfigLoader();
  const validator = new HtmlValidate(loader);
  for (const p of PAGES) {
    test(`${p.name} (${p.path}): the HTML validates (html-validate, recommended)`, async () => {
      const r = await fetch(site.base + p.path);
      assert.equal(r.status, p.status ?? 200);
      const html = await r.text();
      // The filename decides which configuration applies: tests/browser/.htmlvalidate.json.
      const report = await validator.validateString(html, join(HERE, `${p.name}.html`));
      const messages = report.results.flatMap((res) =>
        res.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`),
      );
      assert.deepEqual(messages, [], `${p.path}:\n  ${messages.join("\n  ")}`);
    });
  }

  const taxonomies = essenceTaxonomies();
  for (const width of WIDTHS) {
    test(`without JavaScript, every filter of the Compendium leads to its term page at ${width} px`, async () => {
      const view = await open("/compendium/", { width, javaScriptEnabled: false });
      const { page } = view;
      try {
        const filters = await page.evaluate(() =>
          [...document.querySelectorAll("a[href]")]
            .map((a) => a.getAttribute("href"))
            .filter((h) => /^\/(humour|season|rarity)\/[^/]+\/$/.test(h)),
        );
        const unique = [...new Set(filters)];
        assert.ok(unique.length >= 11, `expected filter links for every term, found ${unique.join(", ")}`);
        // At 1280 px every term; at 390 px the first term of each kind. The first filter is
        // clicked on the Compendium, each next one on the term page the last click led to.
        const kinds = new Set();
        const chosen = width >= 1280 ? unique : unique.filter((h) => !kinds.has(h.split("/")[1]) && kinds.add(h.split("/")[1]));
        for (const href of chosen) {
          const [, kind, term] = href.match(/^\/([^/]+)\/([^/]+)\/$/);
          // On a phone the filters are folded under "Refine the Compendium".
          const fold = page.locator("summary.filters__summary");
          if ((await fold.isVisible()) && !(await page.locator("details.filters__fold").evaluate((d) => d.open))) await fold.click();
          await Promise.all([page.waitForURL(site.base + href), page.locator(`main a[href="${href}"]`).first().click()]);
          const shown = await page.evaluate(() =>
            [...document.querySelectorAll("main a[href^='/compendium/']")]
              .map((a) => a.getAttribute("href"))
              .filter((h) => /^\/compendium\/[^/]+\/$/.test(h) && !/^\/compendium\/page\//.test(h)),
          );
          const want = Object.entries(taxonomies)
            .filter(([, tax]) => (tax[kind] || []).includes(term))
            .map(([path]) => path)
            .sort();
          assert.ok(want.length > 0, `no essence is filed under ${kind} ${term}`);
          assert.deepEqual([...new Set(shown)].sort(), want, `${href} shows the wrong essences`);
        }
        assert.deepEqual(view.problems, []);
      } finally {
        await view.close();
      }
    });
  }

  test("search with JavaScript: /search/?q=lavender and a typed query both find the lavender essence", async () => {
    const view = await open("/search/?q=lavender", { width: 1280 });
    const { page } = view;
    try {
      const hit = page.locator('#search-results a[href="/compendium/provence-lavender/"]');
      await hit.waitFor({ timeout: 5000 });
      await page.goto(site.base + "/search/");
      await page.locator("main input[name=q]").click();
      await page.keyboard.type("lavender");
      await page.keyboard.press("Enter");
      await hit.waitFor({ timeout: 5000 });
      assert.equal(new URL(page.url()).searchParams.get("q"), "lavender");
      assert.deepEqual(view.problems, []);
    } finally {
      await view.close();
    }
  });

  test("search without JavaScript: the page says it needs JavaScript", async () => {
    const view = await open("/search/", { width: 390, javaScriptEnabled: false });
    try {
      // Playwright's text locators skip <noscript>, so look for the notice in the DOM itself.
      const shown = await view.page.evaluate(() =>
        [...document.querySelectorAll("main p")].some(
          (p) => p.textContent.includes("Search needs JavaScript") && p.checkVisibility({ visibilityProperty: true }),
        ),
      );
      assert.ok(shown, "the noscript notice is not shown");
      assert.deepEqual(view.problems, []);
    } finally {
      await view.close();
    }
  });
});

describe("budgets", () => {
  test(`every script together ≤ ${KB(SCRIPT_BUDGET)} KB gzipped`, async (t) => {
    // The site's scripts: those pages loaded, plus every .js of the theme (a page type may not load one).
    const all = new Map(scripts);
    for (const f of readdirSync(join(ROOT, "themes", "manuscript", "static", "js"))) {
      if (!f.endsWith(".js")) continue;
      const res = await fetch(`${site.base}/js/${f}`);
      assert.equal(res.status, 200, `/js/${f}`);
      all.set(`${site.base}/js/${f}`, Buffer.from(await res.arrayBuffer()));
    }
    const total = [...all.values()].reduce((n, b) => n + gz(b), 0);
    t.diagnostic(`scripts: ${[...all.keys()].map((u) => new URL(u).pathname).join(", ")} = ${KB(total)} KB gz`);
    assert.ok(total <= SCRIPT_BUDGET, `scripts weigh ${KB(total)} KB gzipped`);
  });

  test("page weights (gzipped HTML+CSS+JS) are all reported", (t) => {
    for (const [name, w] of weights) t.diagnostic(`${name.padEnd(14)} ${KB(w.total).padStart(5)} KB`);
    assert.ok(weights.size === 0 || weights.size === PAGES.length);
  });
});

describe("links into the checkout service", () => {
  test("answer: `atelier serve` mounts the service on the same port", async () => {
    const broken = [];
    await mapLimit([...serviceLinks], 4, async (u) => {
      const s = await statusOf(u);
      if (s !== 200) broken.push(`${new URL(u).pathname} → ${s}`);
    });
    assert.deepEqual(broken, []);
  });
});

describe("content security policy", () => {
  test("every page type runs under the shop's CSP without a violation", async () => {
    const violations = [];
    await mapLimit(PAGES, 4, async (p) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      page.on("console", (m) => {
        if (m.type() === "error" && /Content Security Policy/i.test(m.text())) violations.push(`${p.path}: ${m.text()}`);
      });
      await page.goto(site.base + p.path, { waitUntil: "load" });
      const csp = await page.evaluate(async () => (await fetch(location.href)).headers.get("content-security-policy"));
      if (!csp || /unsafe-inline/.test(csp)) violations.push(`${p.path}: CSP header ${csp}`);
      await page.waitForTimeout(200);
      await context.close();
    });
    assert.deepEqual(violations, []);
  });
});
