// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A form sends once: its submit buttons are disabled after the first submit (the
  // idempotency key in the form also makes a resubmission harmless).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
  // Points preview at the till, from the organization's earning rule.
  document.querySelectorAll("input[data-rate]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("aria-describedby"));
    var rate = parseFloat(input.dataset.rate), min = parseFloat(input.dataset.min || "0");
    var comma = input.dataset.decimal === ",";
    function update() {
      var raw = input.value.replace(/\s/g, "").replace(/^(R\$|US\$|\$)/, "");
      raw = comma ? raw.replace(/\./g, "").replace(",", ".") : raw.replace(/,/g, "");
      var amount = parseFloat(raw);
      if (!out) return;
      if (isNaN(amount) || amount <= 0) { out.textContent = out.dataset.empty || ""; return; }
      var pts = amount < min ? 0 : Math.floor(amount * rate + 1e-9);
      out.textContent = (out.dataset.template || "= {n}").replace("{n}", pts.toLocaleString(document.documentElement.lang));
    }
    input.addEventListener("input", update);
    update();
  });
  // Buttons that need a second thought.
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (e) {
      if (!window.confirm(el.dataset.confirm)) e.preventDefault();
    });
  });
})();
