/* Atelier Arôme: search over /search_index.en.json; without it the form still submits. */
(function () {
  "use strict";
  var form = document.querySelector("[data-search-form]");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!form || !list || !status || !window.fetch) return;
  var input = form.querySelector("input[name=q]");
  var docs = null;

  function load() {
    if (!docs) {
      docs = fetch("/search_index.en.json").then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (all) {
        return all.map(function (d) {
          var body = String(d.body || "").replace(/\s+/g, " ").trim();
          // The index names each leaf by its absolute URL; link to its path on this origin.
          var u = new URL(d.url || d.path || "/", window.location.href);
          var title = String(d.title || u.pathname);
          return { title: title, path: u.pathname + u.search + u.hash, body: body, lt: title.toLowerCase(), lb: body.toLowerCase() };
        });
      });
    }
    return docs;
  }

  function snippet(d, term) {
    var i = Math.max(0, d.lb.indexOf(term));
    var start = Math.max(0, i - 60);
    var end = Math.min(d.body.length, start + 180);
    return (start > 0 ? "…" : "") + d.body.slice(start, end) + (end < d.body.length ? "…" : "");
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
    var terms = q.toLowerCase().split(/\s+/);
    load().then(function (all) {
      var hits = all.filter(function (d) {
        return terms.every(function (t) { return d.lt.indexOf(t) > -1 || d.lb.indexOf(t) > -1; });
      });
      hits.sort(function (a, b) {
        return (b.lt.indexOf(terms[0]) > -1) - (a.lt.indexOf(terms[0]) > -1);
      });
      hits.slice(0, 50).forEach(function (d) {
        var li = el("li", "search-result"), a = el("a", "search-result__title", d.title);
        a.href = d.path;
        li.appendChild(a);
        li.appendChild(el("p", "search-result__snippet", snippet(d, terms[0])));
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
