// The till without a connection. Progressive enhancement only: without this file the
// till works online exactly as its forms do. What it does (docs/till.md):
// - says at all times whether the till is online and how many purchases wait;
// - offline, records a purchase by card number (typed or scanned from the member QR),
//   or by phone or email among the customers this till served recently (the last 50,
//   kept on this device and cleared at sign-out), with an idempotency key made here,
//   into IndexedDB, and shows its points as an estimate from the program as last synced;
// - when the server answers again, sends them oldest first with the same keys: the
//   server's points replace the estimate, refusals are shown with what to do;
// - keeps waiting purchases across a closed browser and a sign-out (with a warning);
//   each carries the recorder token the server gave this till for the person signed in
//   when it was recorded, so it is recorded as that person whoever sends it;
// - when the shop allows it, redeems points offline up to the daily limit and the
//   balance this till last saw for the customer, checked again by the server;
// - keeps the refusals it shows in IndexedDB until the cashier dismisses them.
(function () {
  "use strict";
  var root = document.getElementById("till-offline");
  if (!root || !window.indexedDB || !window.fetch || !window.crypto || !crypto.randomUUID) return;
  var base = root.dataset.base; // /o/{slug}
  var slug = base.split("/")[2];
  var csrf = root.dataset.csrf;
  var locale = root.dataset.locale || document.documentElement.lang;
  var comma = root.dataset.decimal === ",", minor = parseInt(root.dataset.minor || "2", 10);
  var RECENT = "loyalty-till-recent:" + slug, PROGRAM = "loyalty-till-program:" + slug;
  var RECORDER = "loyalty-till-recorder:" + slug, REDEEMED = "loyalty-till-redeemed:" + slug;
  var RECENT_LIMIT = 50, PROBE_MS = 3000, CACHE = "loyalty-till-v1";
  var statusEl = document.getElementById("till-status");
  var sale = document.getElementById("offline-sale");
  var results = document.getElementById("offline-results"), list = document.getElementById("offline-list");
  var cardIn = document.getElementById("offline-card"), amountIn = document.getElementById("offline-amount");
  var estimateEl = document.getElementById("offline-estimate");
  var redeemBox = document.getElementById("offline-redeem"), redeemIn = document.getElementById("offline-redeem-points");
  var online = navigator.onLine, waiting = 0, syncing = false, halted = null;
  // This till's id, made once and kept across sign-outs: the admin's list of tills
  // shows what each one sent.
  var device = localStorage.getItem("loyalty-device");
  if (!device) {
    device = crypto.randomUUID();
    try { localStorage.setItem("loyalty-device", device); } catch (e) { /* kept for this page only */ }
  }

  function t(name) {
    return root.dataset["t" + name.split("-").map(function (w) {
      return w.charAt(0).toUpperCase() + w.slice(1);
    }).join("")] || "";
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function money(n) {
    try {
      return new Intl.NumberFormat(locale, { style: "currency", currency: root.dataset.currency,
        minimumFractionDigits: minor, maximumFractionDigits: minor }).format(n);
    } catch (e) { return n.toFixed(minor); }
  }
  function int(n) { return Number(n).toLocaleString(locale); }

  // The queue: IndexedDB "loyalty-till", store "queue", oldest first by its id; the
  // refusals shown until the cashier dismisses them: store "refusals".
  function open() {
    return new Promise(function (ok, fail) {
      var r = indexedDB.open("loyalty-till", 2);
      r.onupgradeneeded = function () {
        var names = r.result.objectStoreNames;
        if (!names.contains("queue")) r.result.createObjectStore("queue", { keyPath: "id", autoIncrement: true });
        if (!names.contains("refusals")) r.result.createObjectStore("refusals", { keyPath: "id", autoIncrement: true });
      };
      r.onsuccess = function () { ok(r.result); };
      r.onerror = function () { fail(r.error); };
    });
  }
  function tx(mode, work, store) {
    store = store || "queue";
    return open().then(function (d) {
      return new Promise(function (ok, fail) {
        var x = d.transaction(store, mode), req = work(x.objectStore(store));
        x.oncomplete = function () { d.close(); ok(req.result); };
        x.onerror = x.onabort = function () { d.close(); fail(x.error); };
      });
    });
  }
  function queued() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (all) {
      return all.filter(function (p) { return p.slug === slug; })
        .sort(function (a, b) { return a.id - b.id; });
    });
  }
  function count() {
    return queued().then(function (q) { waiting = q.length; show(); return q; });
  }

  function show() {
    root.hidden = false;
    var text = (online ? t("online") : t("offline")) + " · " + int(waiting) + " " + t("waiting");
    if (syncing && online) text += " · " + t("syncing");
    if (halted) text += " · " + halted;
    statusEl.textContent = text;
    statusEl.className = "till-status " + (halted ? "error" : online ? "ok" : "warn");
    statusEl.dataset.state = online ? "online" : "offline";
    statusEl.dataset.waiting = String(waiting);
    sale.hidden = online;
    var p = program();
    if (redeemBox) redeemBox.hidden = !(p && Number(p.offline_redeem_limit) > 0);
  }
  function say(text) { estimateEl.textContent = text; }
  function item(text, refused, id) {
    results.hidden = false;
    var li = document.createElement("li");
    li.textContent = text;
    li.className = refused ? "refused" : "sent";
    if (id != null) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "link dismiss";
      b.textContent = t("dismiss");
      b.addEventListener("click", function () {
        tx("readwrite", function (s) { return s.delete(id); }, "refusals").then(function () {
          li.remove();
          if (!list.children.length) results.hidden = true;
        });
      });
      li.appendChild(document.createTextNode(" "));
      li.appendChild(b);
    }
    list.appendChild(li);
  }
  // A refusal is kept until the cashier dismisses it; a result that landed is shown once.
  function report(text, refused) {
    if (!refused) { item(text, false, null); return Promise.resolve(); }
    var kept = { slug: slug, text: text, at: new Date().toISOString() };
    return tx("readwrite", function (s) { return s.add(kept); }, "refusals")
      .then(function (id) { item(text, true, id); }, function () { item(text, true, null); });
  }
  tx("readonly", function (s) { return s.getAll(); }, "refusals").then(function (all) {
    all.filter(function (r) { return r.slug === slug; }).sort(function (a, b) { return a.id - b.id; })
      .forEach(function (r) { item(r.text, true, r.id); });
  });

  // The program as last synced, for the estimate.
  function program() {
    try { return JSON.parse(localStorage.getItem(PROGRAM) || "null"); } catch (e) { return null; }
  }
  function localNow(tz) {
    var p = {};
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz, weekday: "long", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .formatToParts(new Date()).forEach(function (x) { p[x.type] = x.value; });
    } catch (e) { return null; }
    return { day: String(p.weekday).toLowerCase(), minute: parseInt(p.hour, 10) * 60 + parseInt(p.minute, 10),
      date: p.year + "-" + p.month + "-" + p.day };
  }
  // The engine's rules, read the simple way: base points, the best running promotion
  // for this moment, a stamp on each card the amount reaches. Per-customer limits and
  // stamp day limits are not known here: the server's answer replaces this.
  function estimate(amount) {
    var p = program();
    if (!p) return null;
    var base = amount < parseFloat(p.min_purchase) ? 0 : Math.floor(amount * parseFloat(p.points_per_unit) + 1e-9);
    var now = localNow(p.timezone), best = 0, promo = "";
    (p.promotions || []).forEach(function (pr) {
      var s = pr.schedule || {};
      if (!now || amount < parseFloat(pr.min_amount)) return;
      var days = (s.days || []).map(function (d) { return String(d).toLowerCase(); });
      if (days.length && days.indexOf(now.day) < 0) return;
      if (s.from_minute != null && now.minute < s.from_minute) return;
      if (s.to_minute != null && now.minute >= s.to_minute) return;
      if (typeof s.from_date === "string" && now.date < s.from_date) return;
      if (typeof s.to_date === "string" && now.date > s.to_date) return;
      var e = pr.effect || {};
      var extra = e.kind === "multiplier" ? Math.floor(base * (parseFloat(e.factor) - 1) + 1e-9) : (e.points || 0);
      if (extra > best) { best = extra; promo = pr.name; }
    });
    var stamps = (p.stamp_cards || []).filter(function (c) { return amount >= parseFloat(c.min_amount); })
      .map(function (c) { return c.name; });
    return { points: base + best, promo: promo, stamps: stamps };
  }
  function estimateText(amount) {
    var e = estimate(amount);
    if (!e) return money(amount);
    var text = money(amount) + " ≈ " + int(e.points) + " " + t("points");
    if (e.promo) text += " (" + e.promo + ")";
    e.stamps.forEach(function (name) { text += " + 1 " + name; });
    return text + " · " + t("estimate");
  }

  // Customers this till served recently: card, phone and email only.
  function recent() {
    try { return JSON.parse(localStorage.getItem(RECENT) || "[]"); } catch (e) { return []; }
  }
  var shown = document.getElementById("till-customer");
  // Keeps the open customer among the recent ones; again once the program is read (the
  // balance is kept only when the shop allows redemptions offline).
  function remember() {
    if (!shown || !shown.dataset.card) return;
    var keep = recent().filter(function (c) { return c.card !== shown.dataset.card; });
    var known = { card: shown.dataset.card, phone: shown.dataset.phone || "",
      email: (shown.dataset.email || "").toLowerCase() };
    var prog = program();
    if (prog && Number(prog.offline_redeem_limit) > 0 && shown.dataset.balance) {
      known.balance = parseInt(shown.dataset.balance, 10);
    }
    keep.unshift(known);
    try { localStorage.setItem(RECENT, JSON.stringify(keep.slice(0, RECENT_LIMIT))); } catch (e) { /* full */ }
  }
  remember();
  var reread = false;
  function isCard(s) {
    if (!/^\d{12}$/.test(s)) return false;
    var sum = 0;
    for (var i = 0; i < 12; i++) {
      var d = parseInt(s.charAt(11 - i), 10);
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }
  // The card number for what was typed or scanned: a card number, or the phone or
  // email of a recent customer.
  function find(typed) {
    var q = String(typed || "").trim(), plain = q.replace(/\s/g, "");
    if (isCard(plain)) return plain;
    var digits = q.replace(/\D/g, ""), email = q.indexOf("@") >= 0, a = recent();
    for (var i = 0; i < a.length; i++) {
      var c = a[i];
      if (email ? c.email && c.email === q.toLowerCase()
        : digits.length >= 7 && c.phone && c.phone.replace(/\D/g, "").slice(-digits.length) === digits) return c.card;
    }
    return null;
  }

  // The person a recorder token names (its payload is base64url JSON; the server checks
  // its signature, this only shows the name).
  function recorderName(token) {
    try {
      var b = String(token).split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(b)))).l || "";
    } catch (e) { return ""; }
  }

  function record() {
    var recorder = localStorage.getItem(RECORDER);
    if (!recorder) { say(t("no-recorder")); return; }
    var card = find(cardIn.value);
    if (!card) { say(isCard(cardIn.value.replace(/\s/g, "")) ? t("bad-card") : t("unknown-customer")); cardIn.focus(); return; }
    var amount = window.loyaltyReadAmount ? window.loyaltyReadAmount(amountIn.value, comma, minor) : null;
    if (amount === null) { say(t("bad-amount")); amountIn.focus(); return; }
    var e = estimate(amount);
    var item = { slug: slug, key: crypto.randomUUID(), card: card, amount: amount.toFixed(minor),
      estimate: e ? e.points : null, recorded_at: new Date().toISOString(), recorder: recorder };
    tx("readwrite", function (s) { return s.add(item); }).then(function () {
      say(estimateText(amount) + " · " + t("recorded"));
      cardIn.value = "";
      amountIn.value = "";
      cardIn.focus();
      return count();
    }).then(function () { if (online) sync(); });
  }
  document.getElementById("offline-record").addEventListener("click", record);

  // The balance this till last saw for a card (its customer page, or a send's answer).
  function lastBalance(card) {
    var a = recent();
    for (var i = 0; i < a.length; i++) if (a[i].card === card) return typeof a[i].balance === "number" ? a[i] : null;
    return null;
  }
  function setBalance(card, balance) {
    var a = recent(), p = program();
    if (!p || !(Number(p.offline_redeem_limit) > 0)) return;
    a.forEach(function (c) { if (c.card === card) c.balance = balance; });
    try { localStorage.setItem(RECENT, JSON.stringify(a)); } catch (e) { /* full */ }
  }
  // Points redeemed offline today (the shop's day) that landed, per card.
  function redeemedToday(day) {
    var r;
    try { r = JSON.parse(localStorage.getItem(REDEEMED) || "null"); } catch (e) { r = null; }
    return r && r.day === day ? r : { day: day, cards: {} };
  }
  function addRedeemed(day, card, n) {
    var r = redeemedToday(day);
    r.cards[card] = (r.cards[card] || 0) + n;
    try { localStorage.setItem(REDEEMED, JSON.stringify(r)); } catch (e) { /* full */ }
  }
  function redeemOffline() {
    var recorder = localStorage.getItem(RECORDER), p = program();
    if (!recorder) { say(t("no-recorder")); return; }
    var limit = p ? Number(p.offline_redeem_limit) || 0 : 0;
    if (!limit) { say(t("redeem-refused")); return; }
    var card = find(cardIn.value);
    if (!card) { say(t("unknown-customer")); cardIn.focus(); return; }
    var seen = lastBalance(card);
    if (!seen) { say(t("redeem-unknown-balance")); return; }
    var n = parseInt(String(redeemIn.value).replace(/[\s.,]/g, ""), 10);
    var now = localNow(p.timezone), day = now ? now.date : new Date().toISOString().slice(0, 10);
    queued().then(function (q) {
      var waitingCard = 0, waitingToday = 0;
      q.forEach(function (x) {
        if (x.kind !== "redeem" || x.card !== card) return;
        waitingCard += x.points;
        if (x.day === day) waitingToday += x.points;
      });
      var used = (redeemedToday(day).cards[card] || 0) + waitingToday;
      var allowed = Math.max(0, Math.min(limit - used, seen.balance - waitingCard));
      if (!(n > 0) || n > allowed) { say(fill(t("redeem-over"), { n: int(allowed) })); redeemIn.focus(); return null; }
      var entry = { slug: slug, kind: "redeem", key: crypto.randomUUID(), card: card, points: n, day: day,
        recorded_at: new Date().toISOString(), recorder: recorder };
      return tx("readwrite", function (s) { return s.add(entry); }).then(function () {
        say(int(n) + " " + t("points") + " · " + t("redeemed"));
        cardIn.value = "";
        redeemIn.value = "";
        return count();
      }).then(function () { if (online) sync(); });
    });
  }
  if (redeemIn) {
    document.getElementById("offline-redeem-btn").addEventListener("click", redeemOffline);
    redeemIn.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); redeemOffline(); } });
  }
  amountIn.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); record(); } });
  cardIn.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); amountIn.focus(); } });
  amountIn.addEventListener("input", function () {
    var amount = window.loyaltyReadAmount ? window.loyaltyReadAmount(amountIn.value, comma, minor) : null;
    say(amount === null ? "" : estimateText(amount));
  });

  // Offline, the search finds the customer on this device, and the award form of an
  // open customer fills the offline purchase; redemptions wait for the connection.
  var search = document.querySelector("form[role=search]");
  if (search) search.addEventListener("submit", function (e) {
    if (online) return;
    e.preventDefault();
    var q = search.querySelector("input[name=q]");
    var card = find(q.value);
    if (!card) { say(t("unknown-customer")); return; }
    cardIn.value = card;
    q.value = "";
    amountIn.focus();
  });
  document.querySelectorAll("form[action$='/award']").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (online || !shown) return;
      e.preventDefault();
      cardIn.value = shown.dataset.card;
      var typed = form.querySelector("[name=amount]");
      amountIn.value = typed ? typed.value : "";
      amountIn.focus();
    });
  });
  document.querySelectorAll("form[action*='/redeem'], form[action*='/card/']").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (online) return;
      e.preventDefault();
      say(t("redeem-refused"));
    });
  });

  // Sending: one purchase at a time, oldest first, with its own key.
  function answer(p, res) {
    var redeem = p.kind === "redeem";
    var amount = redeem ? int(p.points) + " " + t("points") : money(parseFloat(p.amount));
    if (res.type === "opaqueredirect" || res.status === 401) { halted = t("refused-access"); return false; }
    var isJson = (res.headers.get("content-type") || "").indexOf("json") >= 0;
    return (isJson ? res.json() : Promise.resolve(null)).then(function (body) {
      if (res.ok && body) {
        setBalance(body.card, body.balance);
        if (redeem) {
          if (!body.replayed) addRedeemed(p.day, p.card, p.points);
          report(fill(t("redeem-result"), { card: body.card, n: int(body.points), b: int(body.balance) }), false);
        } else {
          report(fill(t("result"), { card: body.card, amount: amount, n: int(body.points),
            e: p.estimate === null ? "?" : int(p.estimate), b: int(body.balance) }), false);
        }
        return true;
      }
      var code = body && body.error ? body.error.code : "";
      if (!code || res.status >= 500 || res.status === 429) return false; // later
      if (code === "org.suspended") { halted = t("refused-suspended"); return false; }
      if (code.indexOf("auth.") === 0 || code === "org.not_found") { halted = t("refused-access"); return false; }
      return report(code === "customer.not_found" ? fill(t("refused-card"), { card: p.card })
        : code === "points.insufficient" ? fill(t("refused-insufficient"), { card: p.card, n: int(p.points) })
        : code === "till.offline_redeem_refused" ? fill(t("refused-redeem-off"), { card: p.card, n: int(p.points) })
        : code === "purchase.unusual_amount" ? fill(t("refused-unusual"), { amount: amount })
        : code === "till.recorder_inactive" ? fill(t("refused-recorder"), { card: p.card, amount: amount,
          who: recorderName(p.recorder) })
        : code === "till.recorder_refused" ? fill(t("refused-token"), { card: p.card, amount: amount })
        : fill(t("refused-other"), { card: p.card, amount: amount, message: body.error.message }), true)
        .then(function () { return true; });
    }).then(function (done) {
      if (!done) return false;
      return tx("readwrite", function (s) { return s.delete(p.id); }).then(function () {
        waiting = Math.max(0, waiting - 1);
        show();
        return true;
      });
    });
  }
  function send(p) {
    var redeem = p.kind === "redeem";
    var body = redeem
      ? { key: p.key, card: p.card, points: p.points, recorded_at: p.recorded_at, device: device,
        recorder: p.recorder || "" }
      : { key: p.key, card: p.card, amount: p.amount, recorded_at: p.recorded_at, device: device,
        recorder: p.recorder || "" };
    return fetch(base + (redeem ? "/till/offline/redemptions" : "/till/offline/purchases"), {
      method: "POST", credentials: "same-origin", redirect: "manual", cache: "no-store",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (res) { return answer(p, res); }, function () { online = false; return false; });
  }
  function sync() {
    if (syncing || halted) return Promise.resolve();
    syncing = true;
    show();
    return queued().then(function (q) {
      return q.reduce(function (chain, p) {
        return chain.then(function (go) { return go ? send(p) : false; });
      }, Promise.resolve(true));
    }).then(function () { syncing = false; return count(); }, function () { syncing = false; show(); });
  }

  // Whether the server answers: a small read every few seconds (and at once when the
  // browser says the network came back), which also refreshes the program and the
  // recorder token of the person signed in.
  function probe() {
    if (!navigator.onLine) { online = false; show(); return; }
    fetch(base + "/till/offline?device=" + encodeURIComponent(device), { credentials: "same-origin", redirect: "manual", cache: "no-store",
      headers: { "Accept": "application/json" } })
      .then(function (res) {
        online = true;
        if (res.ok) {
          halted = null;
          return res.json().then(function (p) {
            try {
              if (p.recorder) localStorage.setItem(RECORDER, p.recorder);
              delete p.recorder;
              localStorage.setItem(PROGRAM, JSON.stringify(p));
            } catch (e) { /* full */ }
            if (!reread) { reread = true; remember(); }
          });
        }
        // Signed out or no longer allowed here: what is recorded from now on is nobody's.
        if (res.status === 401 || res.status === 403) localStorage.removeItem(RECORDER);
        // Refused (signed out, deactivated, shop suspended): sending the oldest purchase
        // says why, and stops until this read succeeds again; a refused person's till
        // is reported to the admin.
      })
      .then(function () { show(); if (online && waiting > 0) sync(); }, function () { online = false; show(); });
  }
  window.addEventListener("online", probe);
  window.addEventListener("offline", probe);
  setInterval(probe, PROBE_MS);

  // Signing out: a warning when purchases wait (they stay for this till's next
  // sign-in); what the device keeps about customers is cleared.
  document.querySelectorAll("form[action='/logout']").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (waiting > 0 && !window.confirm(fill(t("signout-warn"), { n: int(waiting) }))) {
        e.preventDefault();
        return;
      }
      localStorage.removeItem(RECENT);
      localStorage.removeItem(PROGRAM);
      localStorage.removeItem(RECORDER);
      if (window.caches) caches.delete(CACHE);
    });
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(base + "/till/sw.js", { scope: base + "/till" }).catch(function () {
      /* no worker: the page still records offline while it stays open */
    });
  }
  count().then(probe, function () { show(); });
})();
