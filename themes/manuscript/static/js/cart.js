/* Atelier Arôme: cart drawer, cart count, live stock badges, the account link. Forms work without it. */
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
    const fd = new FormData(form);
    const res = await fetch(form.action.replace("/cart/add", "/api/cart/items"), {
      method: "POST", headers: { "Content-Type": J, Accept: J }, credentials: C,
      body: JSON.stringify({ sku: fd.get("sku"), quantity: +fd.get("quantity") || 1 }),
    }).catch(() => 0);
    if (!res) return form.submit();
    const data = await res.json().catch(() => 0);
    busy = 0;
    if (res.ok && data) setCount(data.count), show(data);
    else if (data) live.textContent = data.message || "This could not be added; please try again.";
    else form.submit();
  });
});

const badges = D.querySelectorAll("[data-stock-sku]"), T = { in_stock: "In stock", sold_out: "Sold out" };
if (badges.length) get("/api/stock?" + new URLSearchParams([...badges].map((b) => ["sku", b.dataset.stockSku]))).then((d) => {
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
});

if (link) get("/api/cart").then((d) => d && setCount(d.count));
// The account link says "Sign in" to a visitor who is not (the page itself is the same for all).
const acct = D.querySelector("a[data-account-link]");
if (acct) get(base + "/api/account").then((d) => d && !d.signed_in && (acct.textContent = "Sign in", acct.href = base + "/account/sign-in"));
})();
