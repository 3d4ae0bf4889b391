// proxbox dashboard: the few behaviours htmx does not cover. No eval, no
// inline handlers (the page's Content-Security-Policy forbids them), no
// network access beyond what htmx does on the page's own origin.
(function () {
  "use strict";

  // Theme: Pico follows prefers-color-scheme; the switch pins light or dark.
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("proxbox-theme"); } catch (e) { /* private mode */ }
  if (saved === "light" || saved === "dark") { root.setAttribute("data-theme", saved); }

  function currentTheme() {
    var t = root.getAttribute("data-theme");
    if (t) { return t; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-theme-toggle]") : null;
    if (el) {
      ev.preventDefault();
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("proxbox-theme", next); } catch (e) { /* ignore */ }
      return;
    }
    var copy = ev.target.closest ? ev.target.closest("[data-copy-target]") : null;
    if (copy) {
      ev.preventDefault();
      var src = document.getElementById(copy.getAttribute("data-copy-target"));
      if (!src) { return; }
      var text = src.value !== undefined ? src.value : src.textContent;
      var done = function () { copy.textContent = copy.getAttribute("data-copied") || "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { src.select && src.select(); });
      } else if (src.select) {
        src.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* user copies by hand */ }
      }
    }
  });
})();
