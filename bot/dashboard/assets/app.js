// gocua dashboard: live refresh of the queue and ticket pages, confirm
// buttons, the broadcast audience counter. No inline script (CSP).
(function () {
  "use strict";
  var body = document.body;

  // Live pages: <section id="live" data-live-topic="queue"> is fetched again
  // (X-Fragment) whenever the server says its topic changed.
  var live = document.getElementById("live");
  if (live && live.dataset.liveTopic && window.EventSource) {
    var busy = false, again = false;
    var refresh = function () {
      if (busy) { again = true; return; }
      busy = true;
      fetch(location.href, { headers: { "X-Fragment": "live" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) {
            var active = document.activeElement && document.activeElement.closest && document.activeElement.closest("#live");
            if (!active) { live.innerHTML = html; } else { again = true; }
            live.dataset.refreshed = String(Date.now());
          }
        })
        .finally(function () { busy = false; if (again) { again = false; setTimeout(refresh, 500); } });
    };
    var es = new EventSource(live.dataset.liveUrl || ("events?topic=" + encodeURIComponent(live.dataset.liveTopic)));
    es.addEventListener("change", refresh);
    // on every (re)connection: what changed while the stream was down
    es.onopen = function () {
      if (live.dataset.connected) { refresh(); }
      live.dataset.connected = "1";
    };
  }

  // <button data-confirm="…"> asks first.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-confirm]");
    if (b && !window.confirm(b.dataset.confirm)) { e.preventDefault(); }
  });

  // <select data-autosubmit> submits its form.
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-autosubmit]")) { e.target.form.submit(); }
  });

  // <input data-count-url="…" data-count-target="id">: the live recipient count.
  document.querySelectorAll("[data-count-url]").forEach(function (input) {
    var out = document.getElementById(input.dataset.countTarget);
    var timer = null;
    var count = function () {
      var form = new FormData();
      form.set("audience", input.value);
      form.set("csrf", body.dataset.csrf || "");
      fetch(input.dataset.countUrl, { method: "POST", body: form, credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (t) { if (out) { out.textContent = t; } });
    };
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(count, 400); });
    count();
  });
})();
