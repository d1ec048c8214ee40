// Lighthouse (mobile settings, Debian's Chromium) on the storefront's four key page types:
// home, Compendium, an essence and a journal article. The built site is served the way the
// CDN serves it: gzip, the headers of netlify.toml's [[headers]] for "/*", and the service's
// paths (/api/*, /cart, /checkout, /pay/*, /orders/*, /newsletter) proxied to the checkout
// service, as netlify.toml's redirects do.
//
//   benches/lighthouse.sh            (installs Lighthouse 12, builds the site, starts the
//                                     service, runs this)
//   node benches/lighthouse.mjs PUBLIC_DIR SERVICE_URL PORT
//
// Prints one line per page with the four category scores and exits 1 when a page falls
// below the bars: Performance 98, Accessibility 100, Best Practices 100, SEO 100.

import { createServer, request } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { join, extname, normalize } from "node:path";
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";

const root = process.argv[2] ?? "public";
const service = new URL(process.argv[3] ?? "http://127.0.0.1:8081");
const PROXIED = /^\/(api\/|cart(\/|$|\?)|checkout($|\?)|pay\/|orders\/|newsletter($|\?))/;
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

function proxy(req, res) {
  const upstream = request(
    { host: service.hostname, port: service.port, path: req.url, method: req.method, headers: { ...req.headers, host: service.host } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
}

const server = createServer(async (req, res) => {
  if (PROXIED.test(req.url ?? "")) return proxy(req, res);
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
// The site is built for this origin (its base_url), so its absolute links stay same-origin.
await new Promise((ok) => server.listen(Number(process.argv[4] ?? 0), "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

// Pick a journal article: the first link under the Manuscript's list.
const manuscript = (await readFile(join(root, "manuscript/index.html"), "utf8")).replaceAll("&#x2F;", "/");
const article = manuscript.match(/href="(?:https?:\/\/[^"/]+)?(\/manuscript\/(?!page\/)[^"#?]+\/)"/)?.[1];
if (article) PAGES[3] = article;
if (process.env.LH_PAGES) PAGES.splice(0, PAGES.length, ...process.env.LH_PAGES.split(","));

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
    for (let i = 0; i < Number(process.env.LH_RUNS ?? 3); i++) {
      const result = await lighthouse(`${origin}${page}`, { port: chrome.port, output: "json", logLevel: "error" });
      runs.push(result.lhr);
    }
    const score = (id) => {
      const s = runs.map((r) => Math.round((r.categories[id].score ?? 0) * 100)).sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)];
    };
    const scores = Object.fromEntries(Object.keys(BARS).map((id) => [id, score(id)]));
    console.log(`${page.padEnd(36)} ${String(scores.performance).padStart(4)}  ${String(scores.accessibility).padStart(4)}  ${String(scores["best-practices"]).padStart(4)}  ${String(scores.seo).padStart(4)}`);
    for (const [id, bar] of Object.entries(BARS)) {
      if (scores[id] < bar) {
        failed = true;
        const lhr = runs[Math.floor(runs.length / 2)];
        const audits = lhr.categories[id].auditRefs
          .map((ref) => lhr.audits[ref.id])
          .filter((a) => a && a.score !== null && a.score < 1 && a.scoreDisplayMode !== "informative")
          .map((a) => {
            const items = (a.details?.items ?? []).slice(0, 3).map((i) => `      ${i.source ?? ""} ${i.description ?? i.issueType ?? ""} ${i.url ?? ""}`.trimEnd());
            return [`    ${a.id}: ${a.title}${a.displayValue ? ` (${a.displayValue})` : ""}`, ...items].join("\n");
          });
        console.log(`  ${id} ${scores[id]} < ${bar}:\n${audits.join("\n")}`);
      }
    }
  }
} finally {
  await chrome.kill();
  server.close();
}
process.exit(failed ? 1 : 0);
