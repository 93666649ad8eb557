// The console's live board, kept current: Server-Sent Events, else polling view.json.
(function () {
  "use strict";
  var body = document.body, here = body.dataset.here, lang = body.dataset.lang;
  if (!here) return;
  var board = document.getElementById("board"), waiting = null;
  // A disclosure someone opened (all the late lines) stays open when the board is replaced
  // and when a form's answer reloads the page: the open ones' ids, kept for this tab.
  var key = "console-open " + here, kept = [];
  try { kept = JSON.parse(sessionStorage.getItem(key) || "[]"); } catch (e) { kept = []; }
  function keep() {
    kept = [].map.call(board.querySelectorAll("details[open][id]"), function (d) {
      return d.id;
    });
    try { sessionStorage.setItem(key, JSON.stringify(kept)); } catch (e) { /* private mode */ }
  }
  function reopen() {
    kept.forEach(function (id) {
      var details = document.getElementById(id);
      if (details && board.contains(details)) details.open = true;
    });
  }
  board.addEventListener("toggle", function (e) {  // toggle does not bubble: caught going down
    if (board.contains(e.target)) keep();  // not one the last update took away
  }, true);
  reopen();
  function busy() {  // someone is choosing a pause reason, or pressing a button (focus
    // moves to it on mousedown): do not pull it from under them before the click lands
    var el = document.activeElement;
    return el && board.contains(el) && (el.tagName === "SELECT" || el.tagName === "BUTTON");
  }
  function show(data) {
    if (busy()) { waiting = data; return; }
    waiting = null;
    keep();  // as it is now: a toggle may not have been told yet
    var el = document.activeElement;  // a disclosure's summary keeps the keyboard's focus
    var focused = el && board.contains(el) && el.tagName === "SUMMARY" ? el.parentNode.id : "";
    board.innerHTML = data.html;  // built and escaped by the server (console_page.board)
    reopen();
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
