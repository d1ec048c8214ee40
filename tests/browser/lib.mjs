// Shared helpers of the browser suite and the screenshot command: serve the site with
// `atelier serve`, drive Debian's Chromium through playwright-core, and name every page type.
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "..", "..");
// ATELIER_BIN: a path (relative to the working directory) or a command name on PATH.
export const ATELIER_BIN = process.env.ATELIER_BIN
  ? process.env.ATELIER_BIN.includes("/")
    ? resolve(process.env.ATELIER_BIN)
    : process.env.ATELIER_BIN
  : resolve(HERE, "../../target/debug/atelier");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const WIDTHS = [390, 1280];

// One page of every type the site has. `status` is what the server must answer.
export const PAGES = [
  { name: "home", path: "/" },
  { name: "compendium", path: "/compendium/" },
  { name: "term", path: "/humour/calming/" },
  { name: "essence", path: "/compendium/provence-lavender/" },
  { name: "manuscript", path: "/manuscript/" },
  { name: "article", path: "/manuscript/the-still-called-melusine/" },
  { name: "folio", path: "/folio/" },
  { name: "folio-edition", path: "/folio/autumn-2026/" },
  { name: "atelier", path: "/atelier/" },
  { name: "alchemy", path: "/alchemy/" },
  { name: "contact", path: "/contact/" },
  { name: "privacy", path: "/legal/privacy/" },
  { name: "terms", path: "/legal/terms/" },
  { name: "search", path: "/search/" },
  { name: "404", path: "/no-such-leaf-in-this-manuscript/", status: 404 },
];

// Paths that belong to the checkout service (cart, account, API), which `atelier serve`
// does not mount yet (templates link to them as `{{ config.extra.checkout_url }}/cart` etc.).
// Links to them are checked by a separate, `todo` test.
export const SERVICE_PATHS = [
  /^\/cart(\/|$)/,
  /^\/account(\/|$)/,
  /^\/wishlist(\/|$)/,
  /^\/checkout(\/|$)/,
  /^\/folio\/subscribe(\/|$)/,
  /^\/api\//,
];
export const isServicePath = (p) => SERVICE_PATHS.some((re) => re.test(p));

// Requests of `atelier serve` itself (live reload): not part of the published site.
export const isDevPath = (p) => p.startsWith("/__atelier/");

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start `atelier serve` on a port (a free one unless given) into a temporary output folder, with
// more environment when given; resolves once it answers. The shelves start empty (each test
// stocks what it sells) unless `demoStock`.
export async function startSite({ timeoutMs = 60_000, port: chosen, env: extra = {}, demoStock = false, root = ROOT } = {}) {
  const port = chosen ?? (await freePort());
  const out = mkdtempSync(join(tmpdir(), "atelier-browser-"));
  const args = ["serve", "--root", root, "--port", String(port), "--output-dir", out, "--force"];
  if (!demoStock) args.push("--no-demo-stock");
  // The shop's database and e-mail outbox go into a temporary folder too.
  const data = mkdtempSync(join(tmpdir(), "atelier-browser-data-"));
  const env = { ...process.env, ATELIER_DATA_DIR: data, ...extra };
  const child = spawn(ATELIER_BIN, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  child.on("error", (e) => (exited = { error: e }));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`atelier serve exited early (${JSON.stringify(exited)}; binary ${ATELIER_BIN}):\n${log}`);
    try {
      const r = await fetch(base + "/", { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`atelier serve did not answer on ${base} within ${timeoutMs} ms:\n${log}`);
    }
    await sleep(150);
  }
  return {
    base,
    port,
    out,
    data,
    log: () => log,
    // `atelier stock set SKU N`, then wait until the pages as served say so: `serve` writes its
    // stock export within two seconds and rebuilds the pages that read it.
    async setStock(sku, n) {
      const file = join(data, "stock.json");
      const level = () => {
        try {
          return JSON.parse(readFileSync(file, "utf8")).items[sku]?.available;
        } catch {
          return undefined;
        }
      };
      const already = level() === n;
      const r = spawnSync(ATELIER_BIN, ["--root", root, "stock", "set", sku, String(n)], { env, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`atelier stock set ${sku} ${n}: ${r.stderr}`);
      if (already) return;
      const deadline = Date.now() + 20_000;
      const wait = async (done) => {
        while (!done()) {
          if (Date.now() > deadline) throw new Error(`the pages did not follow the stock of ${sku} (${level()}):\n${log}`);
          await sleep(25);
        }
      };
      // The export, then the rebuild it starts (the watcher waits 250 ms for quiet first).
      await wait(() => level() === n);
      const mark = log.length;
      await wait(() => /(Updated|Rebuilt) /.test(log.slice(mark)));
    },
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([gone, sleep(3000)]);
        if (!exited) child.kill("SIGKILL");
      }
      rmSync(out, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

// Run `fn` over `items` with at most `n` at a time; results keep the items' order.
export async function mapLimit(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

// The taxonomies of every essence, read from the content's TOML front matter
// ([taxonomies] table of `key = ["a", "b"]` lines): { path → { humour: [...], ... } }.
export function essenceTaxonomies() {
  const dir = join(ROOT, "content", "compendium");
  const map = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".md") || f.startsWith("_")) continue;
    const text = readFileSync(join(dir, f), "utf8");
    const fm = text.split(/^\+\+\+\s*$/m)[1] || "";
    if (/^\s*draft\s*=\s*true/m.test(fm)) continue;
    const slug = (fm.match(/^\s*slug\s*=\s*"([^"]+)"/m) || [])[1] || f.replace(/\.md$/, "");
    const tax = {};
    const block = fm.split(/^\[taxonomies\]\s*$/m)[1];
    if (block) {
      for (const line of block.split("\n")) {
        if (/^\s*\[/.test(line)) break;
        const m = line.match(/^\s*(\w+)\s*=\s*\[(.*)\]/);
        if (m) tax[m[1]] = [...m[2].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
      }
    }
    map[`/compendium/${slug}/`] = tax;
  }
  return map;
}

// Fill the checkout form with one shopper's address (the submit is the caller's).
export async function fillAddress(page) {
  await page.getByLabel(/e-?mail/i).first().fill("ada@example.com");
  await page.getByLabel(/full name|^name/i).first().fill("Ada Lovelace");
  await page.locator("[name=line1]").fill("1 rue des Fleurs");
  await page.locator("[name=city]").fill("Grasse");
  await page.locator("[name=postal_code]").fill("06130");
  await page.locator("[name=country]").selectOption("FR");
}

// The text of the outbox's messages in a data folder (quoted-printable soft breaks joined, `=3D`
// read).
export function outboxTexts(data) {
  try {
    return readdirSync(join(data, "outbox"))
      .filter((f) => f.endsWith(".eml"))
      .map((f) => readFileSync(join(data, "outbox", f), "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "="));
  } catch {
    return [];
  }
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// axe's violations on a page, one line each.
export async function axe(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

// The six digits an authenticator shows for a base32 secret, `steps` time steps from now
// (RFC 6238: HMAC-SHA1 of the step, dynamically truncated).
export function totp(secret, steps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const step = Math.floor(Date.now() / 30000) + steps;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(msg).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
