// The head office's live page, kept current: its board fetched again every second (the
// server reads the database at most twice a second, whoever is looking).
(function () {
  "use strict";
  var body = document.body, here = body.dataset.here, lang = body.dataset.lang;
  var board = document.getElementById("board");
  if (!here || !board) return;
  var url = here + "/live.part?lang=" + encodeURIComponent(lang);
  function poll() {
    fetch(url, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) {
        // signed out (sent to the sign-in page) or no longer allowed: the whole page says so
        if (r.redirected || r.status === 401 || r.status === 404) { location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html) board.innerHTML = html; })  // escaped by the server
      .catch(function () {})
      .then(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1000);
})();
