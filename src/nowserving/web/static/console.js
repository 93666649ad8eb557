// The console's live board, kept current: Server-Sent Events, else polling view.json.
(function () {
  "use strict";
  var body = document.body, here = body.dataset.here, lang = body.dataset.lang;
  if (!here) return;
  var board = document.getElementById("board"), waiting = null;
  function busy() {  // someone is choosing a pause reason, or pressing a button (focus
    // moves to it on mousedown): do not pull it from under them before the click lands
    var el = document.activeElement;
    return el && board.contains(el) && (el.tagName === "SELECT" || el.tagName === "BUTTON");
  }
  function show(data) {
    if (busy()) { waiting = data; return; }
    waiting = null;
    // A disclosure someone opened (all the late lines) stays open, and keeps the focus
    var open = [].map.call(board.querySelectorAll("details[open][id]"), function (d) {
      return d.id;
    });
    var focused = document.activeElement && board.contains(document.activeElement) &&
      document.activeElement.tagName === "SUMMARY" ? document.activeElement.parentNode.id : "";
    board.innerHTML = data.html;  // built and escaped by the server (console_page.board)
    open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    var again = focused && document.getElementById(focused);
    if (again) again.querySelector("summary").focus();
    document.title = (data.alerts ? "(" + data.alerts + ") " : "") +
      document.title.replace(/^\(\d+\) /, "");
  }
  document.addEventListener("focusout", function () {
    setTimeout(function () { if (waiting && !busy()) show(waiting); }, 0);
  });
  var query = "?lang=" + encodeURIComponent(lang);
  function poll() {
    fetch(here + "/view.json" + query, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 401 || r.status === 404) { location.reload(); return null; }
        return r.json();
      })
      .then(function (v) { if (v) show(v); })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  if (window.EventSource) {
    var source = new EventSource(here + "/events" + query), failures = 0;
    source.onmessage = function (e) { failures = 0; show(JSON.parse(e.data)); };
    source.addEventListener("gone", function () { source.close(); location.reload(); });
    source.onerror = function () { if (++failures >= 3) { source.close(); poll(); } };
  } else {
    poll();
  }
})();
