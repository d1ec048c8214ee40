import { execFileSync } from "node:child_process";
import { startSite } from "./lib.mjs";
const site = await startSite({ demoStock: true });
const r = await fetch(site.base + "/api/cart/items", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sku: "LAV-PROV-30", quantity: 1 }) });
const cookie = r.headers.get("set-cookie").split(";")[0];
const pages = [["home", "/"], ["compendium", "/compendium/"], ["term", "/humour/calming/"], ["essence", "/compendium/provence-lavender/"], ["article", "/manuscript/on-the-four-humours/"], ["privacy", "/legal/privacy/"], ["search", "/search/"], ["cart", "/cart"], ["checkout", "/checkout"], ["contact", "/contact/"]];
for (const [name, path] of pages) {
  const out = execFileSync("/tmp/lh/node_modules/.bin/lighthouse", [site.base + path, "--quiet", "--output=json", "--chrome-flags=--headless --no-sandbox", `--extra-headers=${JSON.stringify({ Cookie: cookie })}`], { env: { ...process.env, CHROME_PATH: "/usr/bin/chromium" }, maxBuffer: 1 << 28 }).toString();
  const j = JSON.parse(out);
  const c = j.categories;
  console.log(name, ["performance", "accessibility", "best-practices", "seo"].map((k) => Math.round(c[k].score * 100)).join("/"), "LCP", Math.round(j.audits["largest-contentful-paint"].numericValue), "CLS", j.audits["cumulative-layout-shift"].numericValue.toFixed(3));
}
await site.stop();
