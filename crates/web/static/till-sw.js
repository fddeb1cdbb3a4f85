// The till's service worker, scope /o/{slug}/till. It keeps the till page and the files
// it needs so the page opens without a connection; everything else goes to the network
// as usual. Customer pages and answers with customer data are never kept. Purchases are
// not queued here: the page's script keeps them in IndexedDB and sends them itself.
"use strict";
var CACHE = "loyalty-till-v1";
var ASSETS = ["/static/app.css", "/static/app.js", "/static/till.js", "/static/till-icon.svg"];

function tillPage() {
  // The scope is the till page's address itself.
  return new URL(self.registration.scope).pathname.replace(/\/$/, "");
}

// Keeps the till page when the answer is the signed-in page itself (not a redirect to
// the sign-in page).
function keepPage(c, page, res) {
  return res.ok && !res.redirected ? c.put(page, res) : Promise.resolve();
}

self.addEventListener("install", function (event) {
  var page = tillPage();
  event.waitUntil(caches.open(CACHE).then(function (c) {
    return c.addAll(ASSETS).then(function () {
      return fetch(page, { credentials: "same-origin" }).then(function (res) { return keepPage(c, page, res); });
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  var page = tillPage();
  if (req.mode === "navigate" && (url.pathname === page || url.pathname.indexOf(page + "/") === 0)) {
    // The network first; the kept till page when there is none. Only the till's own
    // page (no customer open, no search) is kept, and only a signed-in answer.
    event.respondWith(fetch(req).then(function (res) {
      if (url.pathname === page && !url.search) {
        var copy = res.clone();
        caches.open(CACHE).then(function (c) { return keepPage(c, page, copy); });
      }
      return res;
    }).catch(function () {
      return caches.open(CACHE).then(function (c) { return c.match(page); }).then(function (hit) {
        return hit || Response.error();
      });
    }));
    return;
  }
  if (ASSETS.indexOf(url.pathname) >= 0) {
    // The network first, so a new version shows at once; the kept copy offline.
    event.respondWith(fetch(req).then(function (res) {
      if (res.ok) {
        var copy = res.clone();
        caches.open(CACHE).then(function (c) { return c.put(url.pathname, copy); });
      }
      return res;
    }).catch(function () {
      return caches.open(CACHE).then(function (c) { return c.match(url.pathname); }).then(function (hit) {
        return hit || Response.error();
      });
    }));
  }
});
