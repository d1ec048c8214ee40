/* Atelier Arôme: search over /search_index.en.json, forgiving of typos and accents, essences
   first; each result says what it is (and an essence its price). Without it the form still submits. */
(function () {
  "use strict";
  var form = document.querySelector("[data-search-form]");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!form || !list || !status || !window.fetch) return;
  var input = form.querySelector("input[name=q]");
  var docs = null;
  // Where a word is found, and what finding it there is worth.
  var FIELDS = [["title", 10], ["names", 9], ["latin", 7], ["terms", 6], ["sizes", 4], ["description", 3], ["body", 1]];
  // Words a shopper adds that need not be found ("lavender oil", "essence of rose").
  var OPTIONAL = /^(a|an|the|of|for|and|with|to|in|de|la|le|les|du|des|d|l|oil|oils|essential|huile|huiles|essentielle)$/;
  var KINDS = { essence: "Essence", manuscript: "Manuscript", folio: "Folio", legal: "Terms and rights" };

  // Lower case, no accents, no punctuation: "Lavandula × intermedia" → ["lavandula", "intermedia"].
  function words(s) {
    s = String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
    return s ? s.split(" ") : [];
  }

  function load() {
    if (!docs) {
      docs = fetch("/search_index.en.json").then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (all) {
        return all.map(function (d) {
          // The index names each leaf by its absolute URL; link to its path on this origin.
          var u = new URL(d.url || d.path || "/", window.location.href);
          var j = function (a) { return (a || []).join(" "); };
          // The body is text as HTML writes it (Zola's index form): "&amp;" is "&".
          var body = String(d.body || "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&nbsp;/g, "\u00a0").replace(/&amp;/g, "&");
          var top = u.pathname.split("/")[1];
          return {
            title: String(d.title || u.pathname),
            path: u.pathname + u.search + u.hash,
            kind: KINDS[d.kind] || (u.pathname.split("/").length > 3 && KINDS[top]) || "Page",
            essence: d.kind === "essence",
            price: d.price,
            sizes: (d.sizes || []).join(", "),
            line: String(d.description || body).replace(/\s+/g, " ").trim(),
            f: {
              title: words(d.title), names: words(j(d.names)), latin: words(d.latin_name), terms: words(j(d.terms)),
              sizes: words(j(d.sizes)), description: words(d.description), body: words(body),
            },
          };
        });
      });
    }
    return docs;
  }

  // Edit distance, giving up above `most`.
  function distance(a, b, most) {
    if (Math.abs(a.length - b.length) > most) return most + 1;
    var prev = [], cur, i, j;
    for (j = 0; j <= b.length; j++) prev[j] = j;
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      var low = i;
      for (j = 1; j <= b.length; j++) {
        cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (cur[j] < low) low = cur[j];
      }
      if (low > most) return most + 1;
      prev = cur;
    }
    return prev[b.length];
  }

  // How well a query word matches a word of the text: exactly, as its start, or with a typo or two.
  function match(t, w) {
    if (w === t) return 1;
    var digits = /^\d+$/.test(t);
    if (!digits && t.length > 1 && w.indexOf(t) === 0) return 0.9;
    if (digits || t.length < 4) return 0;
    return distance(t, w, t.length > 7 ? 2 : 1) <= (t.length > 7 ? 2 : 1) ? 0.7 : 0;
  }

  function score(d, t) {
    var best = 0;
    FIELDS.forEach(function (f) {
      var ws = d.f[f[0]], m = 0;
      for (var i = 0; i < ws.length && m < 1; i++) m = Math.max(m, match(t, ws[i]));
      best = Math.max(best, m * f[1]);
    });
    return best;
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    n.className = cls;
    if (text) n.textContent = text;
    return n;
  }

  function render(q) {
    list.textContent = "";
    q = q.trim();
    if (!q) { status.textContent = ""; return; }
    status.textContent = "Searching…";
    var terms = words(q);
    load().then(function (all) {
      var hits = [];
      all.forEach(function (d) {
        var total = 0, missing = false;
        terms.forEach(function (t) {
          var s = score(d, t);
          if (!s && !OPTIONAL.test(t)) missing = true;
          total += s;
        });
        if (!missing && total > 0) hits.push({ d: d, s: total * (d.essence ? 1.5 : 1) });
      });
      hits.sort(function (a, b) { return b.s - a.s; });
      hits.slice(0, 50).forEach(function (h) {
        var d = h.d, li = el("li", "search-result"), a = el("a", "search-result__title", d.title);
        a.href = d.path;
        li.appendChild(a);
        li.appendChild(el("p", "search-result__kind", d.kind + (d.price ? " · from " + d.price + " · " + d.sizes : "")));
        li.appendChild(el("p", "search-result__snippet", d.line.length > 180 ? d.line.slice(0, 180).replace(/\s+\S*$/, "") + "…" : d.line));
        list.appendChild(li);
      });
      status.textContent = hits.length
        ? hits.length + (hits.length === 1 ? " leaf" : " leaves") + " found for “" + q + "”."
        : "Nothing found for “" + q + "”. Try another word, or browse the Compendium.";
    }).catch(function () {
      status.textContent = "The search index could not be read; please browse the Compendium.";
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value;
    var url = new URL(window.location.href);
    if (q.trim()) url.searchParams.set("q", q); else url.searchParams.delete("q");
    window.history.replaceState(null, "", url);
    render(q);
  });

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  if (initial) { input.value = initial; render(initial); }
})();
