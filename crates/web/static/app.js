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
  // The till reads a typed amount by the server's rules (typed_amount.rs): one separator
  // followed by one or two digits is the decimal mark; groups of three digits are
  // thousands; one separator followed by three digits follows the shop's locale; a
  // separator without a digit before or after it is refused. The
  // server reads the amount again; this only shows it while the cashier types.
  function readAmount(typed, comma, minor) {
    var s = typed.replace(/[\s\u00a0\u202f]/g, "").replace(/^(R\$|US\$|\$|€|£|¥)/, "")
      .replace(/(€|\$)$/, "").replace(/^[A-Za-z]{3}(?=[\d.,])/, "").replace(/([\d.,])[A-Za-z]{3}$/, "$1");
    if (!/^[\d.,]+$/.test(s)) return null;
    var p = (s.match(/\./g) || []).length, c = (s.match(/,/g) || []).length;
    function ungroup(x, g) {
      var parts = x.split(g);
      if (!parts[0] || parts[0].length > 3 || (parts[0][0] === "0" && parts.length > 1)) return null;
      for (var i = 1; i < parts.length; i++) if (parts[i].length !== 3) return null;
      return parts.join("");
    }
    function fraction(f) { return minor > 0 && f.length > 0 && f.length <= minor; }
    var plain;
    if (p === 0 && c === 0) plain = s;
    else if (p > 0 && c > 0) {
      var last = Math.max(s.lastIndexOf("."), s.lastIndexOf(","));
      var dec = s[last], grp = dec === "." ? "," : ".";
      if (s.split(dec).length !== 2) return null;
      var int = ungroup(s.slice(0, last), grp), frac = s.slice(last + 1);
      if (int === null || !fraction(frac)) return null;
      plain = int + "." + frac;
    } else {
      var sep = p > 0 ? "." : ",";
      if (p + c > 1) plain = ungroup(s, sep);
      else {
        var i2 = s.indexOf(sep), ip = s.slice(0, i2), fp = s.slice(i2 + 1);
        if (!ip) plain = null;
        else if (fp.length === 1 || fp.length === 2) plain = fraction(fp) ? ip + "." + fp : null;
        else if (fp.length === 3) plain = (sep === ",") === comma ? (fraction(fp) ? ip + "." + fp : null) : ungroup(s, sep);
        else plain = null;
      }
    }
    if (plain === null) return null;
    var n = parseFloat(plain);
    return isNaN(n) || n <= 0 ? null : n;
  }
  // The till's offline module (/static/till.js) reads amounts by the same rules.
  window.loyaltyReadAmount = readAmount;
  // Signing out clears what a till keeps about customers on this device (the recent
  // customers and the program); purchases waiting to be sent stay for the till's next
  // sign-in. On the till page, /static/till.js does this after its warning.
  if (!document.getElementById("till-offline")) {
    document.querySelectorAll("form[action='/logout']").forEach(function (form) {
      form.addEventListener("submit", function () {
        try {
          Object.keys(localStorage).forEach(function (k) {
            if (k.indexOf("loyalty-till-") === 0) localStorage.removeItem(k);
          });
        } catch (e) { /* storage unavailable: nothing kept */ }
        if (window.caches) caches.delete("loyalty-till-v1");
      });
    });
  }
  // Points preview at the till, from the organization's earning rule.
  document.querySelectorAll("input[data-rate]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("aria-describedby"));
    var rate = parseFloat(input.dataset.rate), min = parseFloat(input.dataset.min || "0");
    var comma = input.dataset.decimal === ",", minor = parseInt(input.dataset.minor || "2", 10);
    var locale = input.dataset.locale || document.documentElement.lang;
    function money(n) {
      try {
        return new Intl.NumberFormat(locale, { style: "currency", currency: input.dataset.currency,
          minimumFractionDigits: minor, maximumFractionDigits: minor }).format(n);
      } catch (e) { return n.toFixed(minor); }
    }
    function update() {
      if (!out) return;
      var amount = readAmount(input.value, comma, minor);
      if (amount === null) { out.textContent = out.dataset.empty || ""; return; }
      var pts = amount < min ? 0 : Math.floor(amount * rate + 1e-9);
      out.textContent = (out.dataset.template || "{a} = {n}").replace("{a}", money(amount))
        .replace("{n}", pts.toLocaleString(locale));
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
  // The admin's customer import: the chosen file is read into the form's text field.
  document.querySelectorAll("input[data-import-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var into = document.getElementById(input.dataset.importInto);
      var name = document.getElementById(input.dataset.nameInto);
      if (!file || !into) return;
      if (name) name.value = file.name;
      var reader = new FileReader();
      reader.onload = function () { into.value = String(reader.result || ""); };
      reader.readAsText(file, "utf-8");
    });
  });
  // The wallet card's logo: the chosen file is read into the form as base64.
  document.querySelectorAll("input[data-base64-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var into = document.getElementById(input.dataset.base64Into);
      if (!file || !into) return;
      var reader = new FileReader();
      reader.onload = function () {
        var url = String(reader.result || "");
        into.value = url.slice(url.indexOf(",") + 1);
      };
      reader.readAsDataURL(file);
    });
  });
})();
