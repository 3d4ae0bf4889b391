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

  // Run page: the changes filter applies as one types (the form still
  // submits for the server to filter when scripts are off).
  function filterChanges(form) {
    var section = form.closest("section") || document;
    var val = function (name) { var el = form.elements[name]; return el ? el.value : ""; };
    var op = val("op"), q = val("q").trim().toLowerCase(), ep = val("endpoint"), st = val("stage");
    var active = op !== "" || q !== "" || ep !== "" || st !== "";
    var any = false;
    section.querySelectorAll("details.pbx-kind").forEach(function (kind) {
      var shown = 0;
      kind.querySelectorAll("[data-change]").forEach(function (li) {
        var d = li.dataset;
        var ok = (op === "" || d.op === op) && (st === "" || d.stage === st) &&
          (ep === "" || d.endpoint === "" || d.endpoint === ep) && (q === "" || (d.search || "").indexOf(q) >= 0);
        li.hidden = !ok;
        if (ok) { shown++; }
      });
      kind.hidden = shown === 0;
      if (active) { kind.open = shown > 0; }
      if (shown > 0) { any = true; }
    });
    var none = section.querySelector('[data-testid="no-match"]');
    if (none) { none.hidden = any; }
  }
  var filterEvent = function (ev) {
    var form = ev.target.closest ? ev.target.closest("form[data-change-filter]") : null;
    if (form) { filterChanges(form); }
  };
  document.addEventListener("input", filterEvent);
  document.addEventListener("change", filterEvent);
})();
