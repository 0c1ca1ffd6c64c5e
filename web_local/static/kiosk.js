// The kiosk display refreshes its figures every minute, with a visible pause control
// (WCAG 2.2.2). Without JavaScript the page is a static page and nothing moves.
(function () {
  "use strict";
  var EVERY_MS = 60000;
  var button = document.getElementById("kiosk-pause");
  var state = document.getElementById("kiosk-state");
  var content = document.getElementById("kiosk-content");
  if (!button || !state || !content || !window.fetch || !window.DOMParser) { return; }
  var paused = false;
  button.hidden = false;
  state.hidden = false;
  function describe() {
    button.textContent = paused ? "Resume updates" : "Pause updates";
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    state.textContent = paused ? "Updates are paused." : "This display updates every minute.";
  }
  button.addEventListener("click", function () { paused = !paused; describe(); });
  function refresh() {
    if (paused) { return; }
    fetch(window.location.pathname, { headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html || paused) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("kiosk-content");
        if (fresh) { content.replaceChildren.apply(content, Array.prototype.slice.call(fresh.childNodes)); }
      })
      .catch(function () { /* the next turn tries again */ });
  }
  describe();
  window.setInterval(refresh, EVERY_MS);
}());
