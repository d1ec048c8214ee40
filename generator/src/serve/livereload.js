// Live reload for `atelier serve`: reloads the page after a rebuild and shows build errors
// over the page until they are fixed.
(function () {
  "use strict";
  var overlay = null;
  function showError(message) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.setAttribute("role", "alert");
      overlay.id = "atelier-build-error";
      overlay.style.cssText =
        "position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:2rem;" +
        "background:rgba(28,20,12,.94);color:#fdf6e3;font:14px/1.5 ui-monospace,monospace;white-space:pre-wrap";
      document.body.appendChild(overlay);
    }
    overlay.textContent = "Build failed — the page shows the last good build.\n\n" + message;
  }
  function connect(delay) {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/__atelier/livereload");
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "reload") { location.reload(); }
      else if (msg.type === "error") { showError(msg.message); }
    };
    ws.onclose = function () {
      setTimeout(function () { connect(Math.min(delay * 2, 5000)); }, delay);
    };
  }
  connect(250);
})();
