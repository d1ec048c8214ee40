/* Atelier Arôme: cart drawer, cart count, live stock badges, wishlist and "tell me", the account link. Forms work without it. */
(() => {
const D = document, J = "application/json", C = "same-origin";
const get = (u) => fetch(u, { headers: { Accept: J }, credentials: C }).then((r) => r.ok && r.json()).catch(() => 0);
const el = (tag, cls, text, at) => {
  const n = D.createElement(tag);
  n.className = cls;
  n.textContent = text || "";
  for (const k in at) n.setAttribute(k, at[k]);
  return n;
};
const link = D.querySelector("a[data-cart-link]");
const send = (u, body) => fetch(u, {
  method: "POST", headers: { "Content-Type": J, Accept: J }, credentials: C, body: JSON.stringify(body),
}).catch(() => 0);
const base = link ? link.href.replace(/\/cart$/, "") : "";

const setCount = (n) => {
  n = +n || 0;
  if (link && !D.querySelector("[data-cart-count]")) link.append(" ", el("span", "cart-count", "", { "data-cart-count": "", "aria-hidden": "true" }));
  for (const c of D.querySelectorAll("[data-cart-count]")) c.textContent = n, c.hidden = !n;
  if (link) link.setAttribute("aria-label", `Cart, ${n} item${n == 1 ? "" : "s"}`);
};

let dlg, list, sub, back;
const show = (cart) => {
  if (!dlg) {
    const x = el("button", "btn btn--ghost", "Close", { type: "button", autofocus: "" }), acts = el("p", "drawer__actions");
    acts.append(el("a", "btn", "Checkout", { href: base + "/checkout" }), " ", el("a", "btn btn--ghost", "View cart", { href: base + "/cart" }));
    dlg = el("dialog", "drawer", "", { "aria-label": "Your cart" });
    dlg.append(el("h2", "drawer__title", "Your cart"), x, el("p", "drawer__added", "Added to your cart."),
      (list = el("ul", "drawer__lines", "", { role: "list" })), (sub = el("p", "drawer__subtotal")),
      el("p", "drawer__note", "Prices include VAT; shipping is calculated at checkout."), acts);
    x.onclick = () => dlg.close();
    // A block body: an `on…` handler returning false would cancel clicks on the drawer's links.
    dlg.onclick = (e) => { if (e.target == dlg) dlg.close(); };
    dlg.onclose = () => back && back.focus();
    D.body.append(dlg);
  }
  list.textContent = sub.textContent = "";
  for (const i of cart.items) {
    const li = el("li", "drawer__line");
    li.append(el("span", "drawer__name", i.title), el("span", "drawer__meta", `${i.label || ""} × ${i.quantity}`),
      el("span", "drawer__price", i.line_total.display));
    list.append(li);
  }
  sub.append(el("span", "", "Subtotal"), el("strong", "", cart.subtotal.display));
  dlg.open || dlg.showModal();
};

if (window.HTMLDialogElement) D.querySelectorAll("form[data-cart-form]").forEach((form) => {
  const live = el("p", "cart-status", "", { role: "status" });
  let busy = 0;
  form.after(live);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy++) return;
    back = e.submitter || D.activeElement;
    live.textContent = "";
    const fd = new FormData(form), wish = back && back.hasAttribute("data-wish");
    const res = await (wish ? send(back.formAction.replace(/\/wishlist$/, "/api/wishlist/items"), { sku: fd.get("sku") })
      : send(form.action.replace("/cart/add", "/api/cart/items"), { sku: fd.get("sku"), quantity: +fd.get("quantity") || 1 }));
    if (!res) return busy = 0, wish ? live.textContent = "This could not be kept; please try again." : form.submit();
    const data = await res.json().catch(() => 0);
    busy = 0;
    if (wish && res.ok) live.append("Kept in your wishlist. ", el("a", "", "See your wishlist", { href: back.formAction }));
    else if (res.ok && data) setCount(data.count), show(data);
    else if (data) live.textContent = data.message || "This could not be added; please try again.";
    else form.submit();
  });
});

// "Tell me when it is back": sent by the script, answered in place.
const notify = D.querySelector("form[data-notify-form]");
if (notify) {
  const live = el("p", "cart-status", "", { role: "status" });
  notify.after(live);
  notify.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(notify), res = await send(notify.action.replace(/\/wishlist\/alerts$/, "/api/wishlist/alerts"),
      { sku: fd.get("sku"), email: fd.get("email") || undefined });
    if (!res) return notify.submit();
    const data = await res.json().catch(() => 0);
    live.textContent = (data && data.message) ? data.message.charAt(0).toUpperCase() + data.message.slice(1) + "." : "This could not be noted; please try again.";
  });
}

const badges = D.querySelectorAll("[data-stock-sku]"), T = { in_stock: "In stock", sold_out: "Sold out" };
const skus = new Set([...badges].map((b) => b.dataset.stockSku));
D.querySelectorAll("input[type=radio][name=sku], [data-notify-form] [name=sku], [data-notify-form] option").forEach((i) => skus.add(i.value));
if (skus.size) get("/api/stock?" + new URLSearchParams([...skus].map((s) => ["sku", s]))).then((d) => {
  const items = (d && d.items) || {};
  for (const b of badges) {
    const s = items[b.dataset.stockSku];
    if (!s) continue;
    b.textContent = T[s.status] || (s.available ? `Only ${s.available} left` : "Few left");
    b.className = b.className.replace(/badge--\S+/, "badge--" + s.status.replace("_", "-"));
  }
  for (const r of D.querySelectorAll("input[type=radio][name=sku]")) {
    if (items[r.value]) r.disabled = items[r.value].status == "sold_out";
    if (r.disabled && r.checked) (r.form.querySelector("[name=sku]:enabled") || r).checked = true;
  }
  if (notify) {
    const gone = (sku) => items[sku] && items[sku].status == "sold_out", opts = notify.querySelectorAll("option");
    for (const o of opts) o.disabled = !gone(o.value);
    const first = [...opts].find((o) => !o.disabled), chosen = opts.length && notify.sku.selectedOptions[0];
    if (first && (!chosen || chosen.disabled)) first.selected = true;
    notify.hidden = opts.length ? !first : !gone(notify.sku.value);
  }
});

if (link) get("/api/cart").then((d) => d && setCount(d.count));

// The checkout's summary follows the shipping and country chosen, priced by the service itself.
const co = D.querySelector("form[data-checkout]"), upd = D.querySelector("[data-recalculate]");
if (co) {
  const quote = () => {
    const m = co.querySelector("[name=shipping_method]:checked"), c = co.elements.country.value;
    if (m && c) get(`${base}/api/checkout/quote?shipping_method=${encodeURIComponent(m.value)}&country=${encodeURIComponent(c)}`)
      .then((d) => { if (d) for (const k in d) { const n = D.querySelector(`[data-total=${k}]`); if (n) n.textContent = d[k].display; } });
  };
  co.addEventListener("change", (e) => /^(shipping_method|country)$/.test(e.target.name) && quote());
  if (upd) upd.hidden = true;
}
// The account link says "Sign in" to a visitor who is not (the page itself is the same for all).
const acct = D.querySelector("a[data-account-link]");
const mail = D.querySelector("[data-notify-email]");
if (acct || mail) get(base + "/api/account").then((d) => {
  if (d && !d.signed_in && acct) acct.textContent = "Sign in", acct.href = base + "/account/sign-in";
  // Signed in, the account's address is written to: no need to ask for one.
  if (d && d.signed_in && mail) mail.remove();
});
})();
