// Lighthouse (mobile settings, Debian's Chromium) on the storefront's four key page types:
// home, Compendium, an essence and a journal article. The built site is served the way the
// CDN serves it: gzip, and the headers of netlify.toml's [[headers]] for "/*".
//
//   benches/lighthouse.sh            (installs Lighthouse 12, builds the site, runs this)
//   node benches/lighthouse.mjs PUBLIC_DIR
//
// Prints one line per page with the four category scores and exits 1 when a page falls
// below the bars: Performance 98, Accessibility 100, Best Practices 100, SEO 100.

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { join, extname, normalize } from "node:path";
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";

const root = process.argv[2] ?? "public";
const PAGES = ["/", "/compendium/", "/compendium/provence-lavender/", "/manuscript/"];
const BARS = { performance: 98, accessibility: 100, "best-practices": 100, seo: 100 };
const TYPES = {
  ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".json": "application/json",
  ".svg": "image/svg+xml", ".woff2": "font/woff2", ".xml": "application/xml", ".txt": "text/plain", ".png": "image/png",
  ".ico": "image/x-icon", ".webmanifest": "application/manifest+json",
};
// The same policy netlify.toml sends with every page.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

async function resolve(path) {
  const safe = normalize(decodeURIComponent(path.split("?")[0])).replace(/^(\.\.[/\\])+/, "");
  let file = join(root, safe);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, "index.html");
    await stat(file);
    return { file, status: 200 };
  } catch {
    return { file: join(root, "404.html"), status: 404 };
  }
}

const server = createServer(async (req, res) => {
  const { file, status } = await resolve(req.url ?? "/");
  let body = await readFile(file);
  const type = TYPES[extname(file)] ?? "application/octet-stream";
  const headers = {
    "content-type": type,
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": /\/(fonts|css|js|img)\//.test(file) ? "public, max-age=31536000, immutable" : "public, max-age=0, must-revalidate",
  };
  if (/^(text|application\/(json|xml)|image\/svg)/.test(type) && /gzip/.test(req.headers["accept-encoding"] ?? "")) {
    body = gzipSync(body, { level: 9 });
    headers["content-encoding"] = "gzip";
  }
  res.writeHead(status, headers);
  res.end(body);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

// Pick a journal article: the first link under the Manuscript's list.
const manuscript = await readFile(join(root, "manuscript/index.html"), "utf8");
const article = manuscript.match(/href="(?:https?:\/\/[^"/]+)?(\/manuscript\/[^"#?]+\/)"/)?.[1];
if (article) PAGES[3] = article;

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH ?? "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  console.log(`${"page".padEnd(36)} perf  a11y  best   seo`);
  for (const page of PAGES) {
    const runs = [];
    // Performance varies a little from run to run on a shared machine: the median of three.
    for (let i = 0; i < 3; i++) {
      const result = await lighthouse(`${origin}${page}`, { port: chrome.port, output: "json", logLevel: "error" });
      runs.push(result.lhr);
    }
    const score = (id) => {
      const s = runs.map((r) => Math.round((r.categories[id].score ?? 0) * 100)).sort((a, b) => a - b);
      return s[1];
    };
    const scores = Object.fromEntries(Object.keys(BARS).map((id) => [id, score(id)]));
    console.log(`${page.padEnd(36)} ${String(scores.performance).padStart(4)}  ${String(scores.accessibility).padStart(4)}  ${String(scores["best-practices"]).padStart(4)}  ${String(scores.seo).padStart(4)}`);
    for (const [id, bar] of Object.entries(BARS)) {
      if (scores[id] < bar) {
        failed = true;
        const lhr = runs[1];
        const audits = lhr.categories[id].auditRefs
          .map((ref) => lhr.audits[ref.id])
          .filter((a) => a && a.score !== null && a.score < 1 && a.scoreDisplayMode !== "informative")
          .map((a) => `    ${a.id}: ${a.title}${a.displayValue ? ` (${a.displayValue})` : ""}`);
        console.log(`  ${id} ${scores[id]} < ${bar}:\n${audits.join("\n")}`);
      }
    }
  }
} finally {
  await chrome.kill();
  server.close();
}
process.exit(failed ? 1 : 0);
