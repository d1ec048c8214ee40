// What a demanding shopper noticed (issue 14), each as a check in headless Chromium: lists that
// count what they show, indexes that are there, a header that fits a phone, a checkout that adds
// up and helps fix mistakes, search that finds, a picture per essence, stock as served.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, essenceTaxonomies, launchBrowser, startSite } from "./lib.mjs";

let site;
let browser;

before(async () => {
  [site, browser] = await Promise.all([startSite(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

async function withPage(path, { width = 390, javaScriptEnabled = true } = {}, fn) {
  const context = await browser.newContext({ viewport: { width, height: 844 }, javaScriptEnabled });
  const page = await context.newPage();
  try {
    const r = await page.goto(site.base + path, { waitUntil: "load" });
    assert.equal(r.status(), 200, `${path} answered ${r.status()}`);
    return await fn(page);
  } finally {
    await context.close();
  }
}

describe("lists say what they show", { concurrency: 4 }, () => {
  test("a term page's count equals its cards", async () => {
    await withPage("/humour/calming/", {}, async (page) => {
      const lede = await page.locator(".page-head .lede").innerText();
      const cards = await page.locator(".card-grid .essence-card").count();
      const said = Number(lede.match(/^(\d+) essence/)?.[1]);
      assert.ok(cards > 0, "no cards");
      assert.equal(said, cards, `the page says “${lede}” above ${cards} cards`);
    });
  });

  for (const path of ["/compendium/", "/compendium/page/2/", "/humour/calming/"]) {
    test(`${path}: the order links lead to indexes that are there, the price index lowest first`, async () => {
      await withPage(path, { width: 1280 }, async (page) => {
        for (const id of ["index-a-z", "index-price"]) {
          assert.equal(await page.locator(`.sort-nav a[href="#${id}"]`).count(), 1, `no link to #${id}`);
          assert.equal(await page.locator(`#${id} li a`).count() > 0, true, `#${id} lists nothing`);
        }
        const prices = await page
          .locator("#index-price li")
          .evaluateAll((lis) => lis.map((li) => Number(li.textContent.match(/€([\d.]+)/)[1])));
        assert.deepEqual(prices, [...prices].sort((a, b) => a - b));
      });
    });
  }
});

describe("a picture per essence", () => {
  test("every essence of the Compendium has a drawing of its own, and each answers", async () => {
    const seen = new Map(); // essence path → picture URL
    for (const path of ["/compendium/", "/compendium/page/2/"]) {
      await withPage(path, { width: 1280 }, async (page) => {
        const cards = await page.locator(".essence-card").evaluateAll((cs) =>
          cs.map((c) => [c.querySelector(".card__title a").getAttribute("href"), c.querySelector("img.card__art").src]),
        );
        for (const [href, src] of cards) seen.set(href, src);
      });
    }
    const essences = Object.keys(essenceTaxonomies());
    assert.deepEqual([...seen.keys()].sort(), essences.sort(), "the Compendium's leaves list every essence");
    const pictures = [...seen.values()];
    assert.equal(new Set(pictures).size, pictures.length, `essences share pictures: ${pictures.join(", ")}`);
    for (const src of pictures) {
      const r = await fetch(src);
      assert.equal(r.status, 200, src);
      assert.match(r.headers.get("content-type") ?? "", /^image\//, src);
    }
    // The essence page shows the same drawing as its card.
    await withPage("/compendium/provence-lavender/", {}, async (page) => {
      assert.equal(await page.locator("img.essence__art").evaluate((i) => i.src), seen.get("/compendium/provence-lavender/"));
    });
  });
});

describe("an editor's photograph", () => {
  // The shop's sources copied, Clary Sage made a page bundle with a photograph beside it (a
  // 1,000 × 750 JPEG painted by Chromium's canvas: no image files in the repository).
  async function shopWithAPhotograph() {
    const root = mkdtempSync(join(tmpdir(), "atelier-photo-"));
    for (const d of ["content", "themes"]) cpSync(join(ROOT, d), join(root, d), { recursive: true });
    cpSync(join(ROOT, "config.toml"), join(root, "config.toml"));
    const bundle = join(root, "content/compendium/clary-sage");
    mkdirSync(bundle);
    renameSync(join(root, "content/compendium/clary-sage.md"), join(bundle, "index.md"));
    for (const f of readdirSync(join(root, "content"), { recursive: true })) {
      if (!f.endsWith(".md")) continue;
      const file = join(root, "content", f);
      const text = readFileSync(file, "utf8");
      if (text.includes("@/compendium/clary-sage.md")) {
        writeFileSync(file, text.replaceAll("@/compendium/clary-sage.md", "@/compendium/clary-sage/index.md"));
      }
    }
    const context = await browser.newContext();
    const page = await context.newPage();
    const dataUrl = await page.evaluate(() => {
      const c = document.createElement("canvas");
      c.width = 1000;
      c.height = 750;
      const g = c.getContext("2d");
      const grad = g.createLinearGradient(0, 0, 1000, 750);
      grad.addColorStop(0, "#6b4f8a");
      grad.addColorStop(1, "#d9c27a");
      g.fillStyle = grad;
      g.fillRect(0, 0, 1000, 750);
      g.fillStyle = "#2f5d3a";
      g.beginPath();
      g.arc(500, 375, 200, 0, Math.PI * 2);
      g.fill();
      return c.toDataURL("image/jpeg", 0.9);
    });
    await context.close();
    writeFileSync(join(bundle, "photo.jpg"), Buffer.from(dataUrl.split(",")[1], "base64"));
    return root;
  }

  test("its card and its page show it, in the format Chromium prefers, at the size of the frame", async () => {
    const root = await shopWithAPhotograph();
    const photoSite = await startSite({ root });
    try {
      for (const [width, frame] of [
        [390, 128],
        [1280, 160],
      ]) {
        const context = await browser.newContext({ viewport: { width, height: 844 }, deviceScaleFactor: 2 });
        const page = await context.newPage();
        try {
          await page.goto(photoSite.base + "/compendium/clary-sage/", { waitUntil: "load" });
          const img = page.locator("picture img.essence__art");
          const shown = await img.evaluate((i) => ({
            src: i.currentSrc,
            // The width of the candidate taken, from its descriptor (naturalWidth is divided by
            // the density the browser reckons).
            natural: Number(
              [...i.parentElement.querySelectorAll("source, img")]
                .flatMap((e) => e.getAttribute("srcset").split(", "))
                .find((c) => c.startsWith(i.currentSrc + " "))
                ?.split(" ")[1]
                .replace("w", ""),
            ),
            box: [i.getBoundingClientRect().width, i.getBoundingClientRect().height],
            alt: i.alt,
            radius: getComputedStyle(i).borderRadius,
          }));
          assert.match(shown.src, /\/processed_images\/photo\.[0-9a-f]{16}\.avif$/, "AVIF, which Chromium takes first");
          assert.deepEqual(shown.box, [frame, frame], `a ${frame} px square at ${width} px`);
          assert.ok(shown.natural >= frame * 2, `sharp at 2×: ${shown.natural} px for a ${frame} px frame`);
          assert.equal(shown.alt, "Photograph of Provençal Clary Sage");
          assert.equal(shown.radius, "50%");
          assert.equal(await page.locator("img.essence__art:not(picture img)").count(), 0, "no drawing beside it");
        } finally {
          await context.close();
        }
      }
      const context = await browser.newContext({ viewport: { width: 1280, height: 844 } });
      const page = await context.newPage();
      try {
        await page.goto(photoSite.base + "/humour/calming/", { waitUntil: "load" });
        const card = page.locator(".essence-card", { has: page.locator('a[href="/compendium/clary-sage/"]') });
        const img = card.locator("picture img.card__art--photo");
        await img.scrollIntoViewIfNeeded();
        await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
        const src = await img.evaluate((i) => i.currentSrc);
        assert.match(src, /\.avif$/);
        assert.deepEqual(await img.evaluate((i) => [i.width, i.height]), [72, 72]);
      } finally {
        await context.close();
      }
    } finally {
      await photoSite.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("layouts a shopper reads without effort", { concurrency: 4 }, () => {
  test("at 390 px a table of prose is one block per row, each cell under its column's name", async () => {
    for (const path of ["/legal/privacy/", "/manuscript/on-the-four-humours/", "/manuscript/perfumers-calendar/"]) {
      await withPage(path, {}, async (page) => {
        const cells = await page.locator(".table-stack tbody :is(th, td)").evaluateAll((cs) =>
          cs.map((c) => ({ width: c.getBoundingClientRect().width, label: c.dataset.label ?? null, tag: c.tagName })),
        );
        const heads = await page.locator(".table-stack thead th").allInnerTexts();
        assert.ok(cells.length > 6, `${path}: a table`);
        for (const c of cells) assert.ok(c.width > 300, `${path}: a cell ${Math.round(c.width)} px wide on a 390 px screen`);
        for (const c of cells.filter((c) => c.tag === "TD")) assert.ok(heads.includes(c.label), `${path}: a cell labelled ${c.label}`);
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390, `${path} scrolls sideways`);
      });
    }
    // On a wide screen it stays a table.
    await withPage("/legal/privacy/", { width: 1280 }, async (page) => {
      assert.equal(await page.locator(".table-stack tbody tr").first().evaluate((r) => getComputedStyle(r).display), "table-row");
    });
  });

  test("at 390 px breadcrumbs and index links are targets at least 24 px high", async () => {
    for (const [path, selector] of [
      ["/compendium/provence-lavender/", ".breadcrumbs a"],
      ["/compendium/", ".az-index__list a"],
      ["/compendium/", ".price-index a"],
    ]) {
      await withPage(path, {}, async (page) => {
        const heights = await page.locator(selector).evaluateAll((as) => as.map((a) => a.getBoundingClientRect().height));
        assert.ok(heights.length > 0, `${path}: ${selector}`);
        assert.ok(Math.min(...heights) >= 24, `${path}: ${selector} ${Math.min(...heights)} px high`);
      });
    }
  });

  test("at 390 px the search page's field and button share a row", async () => {
    await withPage("/search/", {}, async (page) => {
      const field = await page.locator("main .search-form input[name=q]").boundingBox();
      const button = await page.locator("main .search-form button").boundingBox();
      assert.ok(Math.abs(field.y + field.height / 2 - (button.y + button.height / 2)) < 4, "the button fell below the field");
      assert.ok(button.x + button.width <= 390 - 16 + 1, "the button runs off the page");
    });
  });

  test("at 1280 px the footer's columns and the kindred essences fill their rows", async () => {
    await withPage("/compendium/provence-lavender/", { width: 1280 }, async (page) => {
      const columns = await page.locator(".colophon").evaluate((c) => getComputedStyle(c).gridTemplateColumns.split(" ").length);
      const parts = await page.locator(".colophon > :not(.colophon__rights)").count();
      assert.equal(columns, parts, "as many columns as the footer has parts");
      const grid = await page.locator(".related .card-grid").boundingBox();
      const cards = await page.locator(".related .card-grid > li").evaluateAll((ls) => ls.map((l) => l.getBoundingClientRect().right));
      assert.ok(Math.abs(Math.max(...cards) - (grid.x + grid.width)) < 2, "an empty place is left after the kindred essences");
    });
  });
});

describe("a header that fits a phone", { concurrency: 4 }, () => {
  const box = (page, sel) => page.locator(sel).first().evaluate((e) => e.getBoundingClientRect().toJSON());

  for (const javaScriptEnabled of [true, false]) {
    test(`at 390 px the header is one row of ≤ 64 px, its targets ≥ 44 px, the menu opens (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async () => {
      await withPage("/", { javaScriptEnabled }, async (page) => {
        const header = await box(page, ".site-header");
        assert.ok(header.height <= 64, `the header is ${header.height} px tall`);
        for (const sel of ["a.brand", "summary.menu__toggle", "a[data-cart-link]"]) {
          const b = await box(page, sel);
          assert.ok(b.width >= 44 && b.height >= 44, `${sel} is ${b.width}×${b.height} px`);
        }
        const compendium = page.locator('.site-nav a[href="/compendium/"]');
        assert.equal(await compendium.isVisible(), false, "the folios wait behind Menu");
        await page.locator("summary.menu__toggle").click();
        assert.equal(await compendium.isVisible(), true);
        const link = await box(page, '.site-nav a[href="/compendium/"]');
        assert.ok(link.height >= 44, `a menu link is ${link.height} px tall`);
        // The header's search goes to the search page with the query.
        await page.locator(".header-search input[name=q]").fill("rose");
        await Promise.all([page.waitForURL(/\/search\/\?q=rose$/), page.keyboard.press("Enter")]);
      });
    });
  }

  test("at 1280 px the folios, the search field and the cart are all in view, no Menu", async () => {
    await withPage("/", { width: 1280 }, async (page) => {
      assert.equal(await page.locator("summary.menu__toggle").isVisible(), false);
      for (const sel of ['.site-nav a[href="/manuscript/"]', ".header-search input", "a[data-cart-link]", "a[data-account-link]"]) {
        assert.equal(await page.locator(sel).isVisible(), true, `${sel} is hidden`);
      }
    });
    await withPage("/compendium/", { width: 1280 }, async (page) => {
      assert.equal(await page.locator('.filters a[href="/humour/calming/"]').isVisible(), true, "the filters are open");
    });
  });

  test("at 390 × 844 the first essence is on the first screen, “Add to cart” within 1.5 screens", async () => {
    for (const path of ["/compendium/", "/humour/calming/"]) {
      await withPage(path, {}, async (page) => {
        const card = await box(page, ".essence-card");
        assert.ok(card.top < 844 - 120, `${path}: the first essence starts ${card.top} px down`);
      });
    }
    await withPage("/compendium/provence-lavender/", {}, async (page) => {
      const add = await box(page, ".purchase__form button[type=submit]");
      assert.ok(add.bottom <= 844 * 1.5, `“Add to cart” ends ${add.bottom} px down`);
    });
  });
});

describe("a new shop is a working shop", () => {
  test("`atelier serve` on a new database stocks the shelves, says so, and the pages show it", async () => {
    const demo = await startSite({ demoStock: true });
    try {
      assert.match(demo.log(), /Demo stock: 12 bottles of each/);
      const r = await fetch(`${demo.base}/api/stock?sku=LAV-PROV-30`);
      assert.equal((await r.json()).items["LAV-PROV-30"].available, 12);
      const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
      try {
        const page = await context.newPage();
        await page.goto(`${demo.base}/compendium/provence-lavender/`, { waitUntil: "networkidle" });
        // The page's script has asked the service for the levels: no size is marked sold out.
        assert.equal(await page.locator("input[name=sku]:disabled").count(), 0, "no size is sold out");
        await page.getByRole("button", { name: /add to cart/i }).click();
        const drawer = page.locator("dialog[open]");
        await drawer.waitFor({ state: "visible" });
        assert.match(await drawer.innerText(), /Provence Lavender/);
      } finally {
        await context.close();
      }
    } finally {
      await demo.stop();
    }
  });
});

describe("a contact form", () => {
  test("without JavaScript, a letter from the Contact page reaches staff (Reply-To the sender) and a copy the sender", async () => {
    await withPage("/contact/", { javaScriptEnabled: false }, async (page) => {
      await page.getByLabel("Your name").fill("Ada Lovelace");
      await page.getByLabel("Your e-mail").fill("ada@example.com");
      await page.getByLabel("Subject").fill("A winter blend");
      await page.getByLabel("Your message").fill("Which essence would you choose for a winter evening?");
      await Promise.all([page.waitForURL(/\/contact\/send$/), page.getByRole("button", { name: /send the letter/i }).click()]);
      assert.match(await page.locator("h1").innerText(), /on its way/);
    });
    const dir = join(site.data, "outbox");
    let mails = [];
    for (let i = 0; i < 50 && mails.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        mails = readdirSync(dir).filter((f) => f.endsWith(".eml")).map((f) => readFileSync(join(dir, f), "utf8"));
      } catch {}
    }
    const staff = mails.find((m) => /Subject: Contact form: A winter blend/.test(m));
    assert.ok(staff, `a letter to staff in ${mails.length} messages`);
    assert.match(staff, /^Reply-To: .*ada@example\.com/m);
    assert.ok(mails.some((m) => /^To: ada@example\.com/m.test(m) && /winter evening/.test(m)), "the sender's copy");
  });

  test("a letter that needs another look comes back with its problems beside their fields", async () => {
    await withPage("/contact/", { javaScriptEnabled: false }, async (page) => {
      await page.getByLabel("Your name").fill("Ada");
      await page.getByLabel("Your e-mail").fill("ada@");
      await page.getByRole("button", { name: /send the letter/i }).click();
      await page.waitForURL(/\/contact\/send$/);
      assert.equal(await page.locator(".alert").evaluate((e) => e === document.activeElement), true);
      assert.equal(await page.locator("#email").getAttribute("aria-invalid"), "true");
      assert.equal(await page.locator("#name").inputValue(), "Ada", "what was typed is kept");
    });
  });
});

describe("search that finds", () => {
  // What a shopper types, and the leaf that must come first (or, for a list, be among the first).
  const E = (slug) => `/compendium/${slug}/`;
  const FIRST = [
    ["lavender", E("provence-lavender")],
    ["lavendr", E("provence-lavender")],
    ["lavande", E("provence-lavender")],
    ["Lavender oil", E("provence-lavender")],
    ["sandalwood 10 ml", E("australian-sandalwood")],
    ["santal", E("australian-sandalwood")],
    ["lemon", E("sicilian-lemon")],
    ["citron", E("sicilian-lemon")],
    ["bergamote", E("calabrian-bergamot")],
    ["frankinsense", E("omani-frankincense")],
    ["encens", E("omani-frankincense")],
    ["menthe poivree", E("pancalieri-peppermint")],
    ["camomile", E("roman-chamomile")],
    ["rosmarinus", E("garrigue-rosemary")],
    ["vétiver", E("haitian-vetiver")],
    ["jasmin", E("indian-jasmine-absolute")],
    ["black pepper", E("malabar-black-pepper")],
    ["eucalyptus", E("tasmanian-eucalyptus")],
    ["orris", E("tuscan-orris-butter")],
    ["orange sanguine", E("sicilian-blood-orange")],
    ["rose", E("bulgarian-rose-otto")],
    ["cedar", E("atlas-cedarwood")],
    ["clary sage", E("clary-sage")],
    ["melusine", "/manuscript/the-still-called-melusine/"],
  ];
  // A humour, a season: every essence filed under it is found, essences before other leaves.
  const ALL = [
    ["calming", ["provence-lavender", "bulgarian-rose-otto", "roman-chamomile", "clary-sage", "tuscan-orris-butter"]],
    ["winter", ["calabrian-bergamot", "omani-frankincense", "atlas-cedarwood", "sicilian-blood-orange", "malabar-black-pepper"]],
  ];

  test(`recall: ${FIRST.length + ALL.length} queries a shopper would type find what they mean`, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const results = async (q) => {
      await page.goto(`${site.base}/search/?q=${encodeURIComponent(q)}`);
      await page.waitForFunction(() => !/Searching/.test(document.getElementById("search-status").textContent));
      return page.locator("#search-results .search-result__title").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    };
    const misses = [];
    try {
      for (const [q, want] of FIRST) {
        const got = await results(q);
        if (got[0] !== want) misses.push(`“${q}”: ${want} first, got ${got.slice(0, 3).join(", ") || "nothing"}`);
      }
      for (const [q, slugs] of ALL) {
        const got = await results(q);
        const top = got.slice(0, slugs.length);
        for (const s of slugs) if (!top.includes(E(s))) misses.push(`“${q}”: ${E(s)} not among the first ${slugs.length} (${got.join(", ")})`);
      }
      assert.deepEqual(misses, []);
      // A result says what it is, and an essence its price.
      await results("lavender");
      const kinds = await page.locator(".search-result__kind").allInnerTexts();
      assert.match(kinds[0] ?? "", /^Essence · from €42\.00/);
    } finally {
      await context.close();
    }
  });
});

describe("stock as served", () => {
  test("without JavaScript, the pages as served follow the stock: levels, sold-out sizes disabled, a sold-out essence's card", async () => {
    await site.setStock("LAV-PROV-30", 3);
    await site.setStock("LAV-PROV-100", 0);
    await withPage("/compendium/provence-lavender/", { javaScriptEnabled: false }, async (page) => {
      assert.match(await page.locator('label[for="size-1"]').textContent(), /Only 3 left/);
      assert.equal(await page.locator('input[value="LAV-PROV-100"]').isDisabled(), true);
      assert.match(await page.locator('label[for="size-2"]').textContent(), /Sold out/);
      assert.equal(await page.locator(".purchase__form button[type=submit]").first().isEnabled(), true);
    });
    // Nothing of the bergamot is stocked on this shop: its card says so.
    await withPage("/compendium/", { width: 1280, javaScriptEnabled: false }, async (page) => {
      const card = page.locator(".essence-card", { has: page.locator('a[href="/compendium/calabrian-bergamot/"]') });
      assert.match(await card.textContent(), /Sold out/);
      const lavender = page.locator(".essence-card", { has: page.locator('a[href="/compendium/provence-lavender/"]') });
      assert.doesNotMatch(await lavender.textContent(), /Sold out/);
    });
  });
});
