// goto UI: the live page. Polls the JSON API about once a second, only
// while the page is visible, and redraws the open view.
"use strict";
(function () {
  var el = GC.el;
  var TOKEN_KEY = "goto-admin-token";
  var waitingToken = null;

  function token() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }

  // With --admin-token the first 401 shows the token form once; the
  // token then goes with every call as a bearer header.
  function askToken() {
    if (waitingToken) return waitingToken;
    var form = document.getElementById("token-form");
    form.hidden = false;
    waitingToken = new Promise(function (resolve) {
      form.onsubmit = function (ev) {
        ev.preventDefault();
        try { sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value); } catch (e) { /* private mode */ }
        form.hidden = true;
        waitingToken = null;
        resolve();
      };
    });
    return waitingToken;
  }

  function call(method, path, retried) {
    var h = {};
    var t = token();
    if (t) h.Authorization = "Bearer " + t;
    return fetch(path, { method: method, headers: h, cache: "no-store" }).then(function (r) {
      if (r.status === 401 && !retried) return askToken().then(function () { return call(method, path, true); });
      return r;
    });
  }

  function getJSON(path) {
    return call("GET", path).then(function (r) {
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    });
  }

  function getText(path) {
    return call("GET", path).then(function (r) {
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.text();
    });
  }

  function post(path) {
    return call("POST", path).then(function (r) {
      return r.text().then(function (t) { return (r.ok ? "" : r.status + ": ") + t.trim(); });
    });
  }

  // ---- client view ----
  var client = { asked: {}, marks: {}, last: null };

  function selectedTarget() { return document.getElementById("c-target").value; }

  function say(msg) { document.getElementById("c-msg").textContent = msg; }

  function wireClient() {
    var q = encodeURIComponent;
    document.getElementById("c-invoke").onclick = function () {
      var n = selectedTarget();
      if (n) post("/client/targets/" + q(n) + "/invoke?blocking=N").then(say).then(refreshSoon);
    };
    document.getElementById("c-stop").onclick = function () {
      var n = selectedTarget();
      if (n) post("/client/targets/" + q(n) + "/stop").then(say).then(refreshSoon);
    };
    document.getElementById("c-invoke-all").onclick = function () { post("/client/targets/invoke/all?blocking=N").then(say).then(refreshSoon); };
    document.getElementById("c-stop-all").onclick = function () { post("/client/targets/stop/all").then(say).then(refreshSoon); };
    document.getElementById("c-setrate").onclick = function () {
      var n = selectedTarget(), r = document.getElementById("c-rate").value;
      if (!n || !r) return;
      post("/client/targets/" + q(n) + "/rate/set/" + q(r)).then(function (m) {
        say(m);
        if (m.indexOf("Rate of") === 0) {
          client.asked[n] = Number(r);
          (client.marks[n] = client.marks[n] || []).push({ unix: Date.now() / 1000, label: r + " req/s" });
        }
      }).then(refreshSoon);
    };
    document.getElementById("c-report").onclick = function () {
      call("GET", "/ui/report").then(function (r) { return r.blob(); }).then(function (b) {
        window.open(URL.createObjectURL(b), "_blank");
      });
    };
  }

  function syncSelect(sel, names) {
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    if (have.join("\n") === names.join("\n")) return;
    var keep = sel.value;
    sel.textContent = "";
    names.forEach(function (n) { sel.appendChild(el("option", { value: n }, n)); });
    if (names.indexOf(keep) >= 0) sel.value = keep;
  }

  function replace(id, node) {
    var box = document.getElementById(id);
    box.textContent = "";
    box.appendChild(node);
  }

  function pollClient() {
    return Promise.all([
      getJSON("/client/targets"), getJSON("/client/targets/active"), getJSON("/client/results"),
      getJSON("/client/results/timeline"), getJSON("/ui/data/targets")
    ]).then(function (v) {
      var d = { targets: v[0], active: v[1], results: v[2], timeline: v[3], figures: v[4], asked: client.asked };
      client.last = d;
      var names = GV.targetNames(d);
      syncSelect(document.getElementById("c-target"), names);
      replace("c-table", GV.summaryTable(d));
      replace("c-mix", GV.statusMix(d));
      var charts = el("div");
      names.forEach(function (n) { charts.appendChild(GV.targetSection(n, d, client.marks[n] || [])); });
      replace("c-charts", charts);
    });
  }

  // ---- polling ----
  var views = { client: pollClient };
  var timer = null;

  function current() {
    var v = (location.hash || "#client").slice(1);
    return views[v] ? v : "client";
  }

  function show() {
    var v = current();
    ["client", "server", "registry"].forEach(function (n) {
      document.getElementById("view-" + n).hidden = n !== v;
    });
    Array.prototype.forEach.call(document.querySelectorAll("nav a"), function (a) {
      a.className = a.getAttribute("data-view") === v ? "on" : "";
    });
  }

  function tick() {
    timer = null;
    if (document.hidden) return; // resumed by visibilitychange
    var started = Date.now();
    views[current()]().then(function () {
      document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.setAttribute("data-updated", String(started));
    }, function (e) {
      document.getElementById("status").textContent = "update failed: " + e.message;
    }).then(function () { if (!timer) timer = setTimeout(tick, 1000); });
  }

  function refreshSoon() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, 150);
  }

  window.GOTO_UI = { views: views, getJSON: getJSON, getText: getText, post: post, replace: replace, syncSelect: syncSelect, refreshSoon: refreshSoon };

  document.addEventListener("visibilitychange", function () { if (!document.hidden && !timer) tick(); });
  window.addEventListener("hashchange", function () { show(); refreshSoon(); });
  call("GET", "/label").then(function (r) { return r.ok ? r.text() : ""; }).then(function (t) {
    document.getElementById("instance").textContent = t.trim();
  }, function () {});
  wireClient();
  // Once every view's script (loaded after this one) has registered.
  function start() { show(); tick(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
