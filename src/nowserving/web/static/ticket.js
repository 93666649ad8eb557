// The ticket page, kept current: Server-Sent Events, else polling view.json. No framework.
(function () {
  "use strict";
  var body = document.body, here = body.dataset.here, lang = body.dataset.lang;
  var status = body.className.replace("status-", ""), shown = null, flashing = null;
  var title = document.title, sound = null;
  // The call's sound (17 KB, most of a first visit) is fetched only when it may be needed:
  // on the first tap (which also unlocks it: browsers play sound only after one) or once
  // the ticket is near its turn or called.
  function chime() {
    if (!sound) { sound = new Audio("/static/call.wav"); sound.preload = "auto"; }
    return sound;
  }
  function $(id) { return document.getElementById(id); }
  function text(id, value) {
    var el = $(id); if (!el) return;
    el.textContent = value || ""; el.hidden = !value;
  }
  function alertCall(view) {
    $("call").hidden = false;
    document.querySelector("#call .callnum").textContent = view.call_text;
    body.className = "status-called";
    try { var s = chime(); s.currentTime = 0; s.play().catch(function () {}); } catch (e) {}
    if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
    if (!flashing) {
      var on = false;
      flashing = setInterval(function () {
        on = !on; document.title = on ? "🔔 " + view.call_text : title;
        $("call").classList.toggle("flash", on);
      }, 600);
    }
  }
  function show(view) {
    var key = [view.status, view.stepped_out, view.can_rate, view.recalls].join();
    if (shown !== null && key !== shown && view.status !== "called") { location.reload(); return; }
    shown = key;
    text("title", view.title); text("ahead_text", view.ahead_text);
    text("range_text", view.range_text); text("counters_text", view.counters_text);
    text("back_by_text", view.back_by_text);
    $("head_back").hidden = !view.head_back;
    if (view.head_back && navigator.vibrate) navigator.vibrate(300);
    var list = $("notices"); list.textContent = "";
    (view.notices || []).forEach(function (n) {
      var li = document.createElement("li"); li.textContent = n; list.appendChild(li);
    });
    if (view.status === "called") alertCall(view);
    else if (view.status === "waiting" && view.ahead !== null && view.ahead <= 3) chime();
    status = view.status;
  }
  var query = "?lang=" + encodeURIComponent(lang);
  function poll() {
    fetch(here + "/view.json" + query, {cache: "no-store"})
      .then(function (r) { if (r.status === 404) { location.reload(); return null; } return r.json(); })
      .then(function (v) { if (v) show(v); })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  if (window.EventSource) {
    var source = new EventSource(here + "/events" + query), failures = 0;
    source.onmessage = function (e) { failures = 0; show(JSON.parse(e.data)); };
    source.addEventListener("gone", function () { source.close(); location.reload(); });
    source.onerror = function () {
      if (++failures >= 3) { source.close(); poll(); }  // a proxy that will not stream
    };
  } else {
    poll();
  }
  document.addEventListener("click", function () {  // a tap unlocks sound on iOS/Chrome
    var s = chime();
    if (status === "called") { s.play().catch(function () {}); return; }  // now it may sound
    s.muted = true; s.play().then(function () { s.pause(); s.muted = false; })
      .catch(function () {});
  }, {once: true});
})();
