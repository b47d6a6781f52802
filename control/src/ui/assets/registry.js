// goto UI: the registry view. Reads GET /registry/peers (labels, pods,
// epochs, unhealthy spans), GET /registry/peers/lockers/targets/results/timeline
// (the fleet's merged timeline), .../results/peers?seconds=Y (the per-peer
// breakdown) and, on demand, GET /registry/peers/{label}/locker.
"use strict";
(function () {
  var U = window.GOTO_UI, el = GC.el;
  var lockerOpen = null; // label whose lockers are shown

  function t(s) { var v = Date.parse(s); return isFinite(v) ? v / 1000 : null; }

  function clock(sec) {
    var d = new Date(sec * 1000);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  // One row per pod address, one bar per epoch (first to last contact);
  // a new epoch at the same address is a restart; an address no longer
  // among the pods was deregistered (or cleaned up) after its last epoch.
  // Unhealthy spans (the registry's probes found the pod not answering)
  // are drawn vermillion on the row; an open one runs to now.
  function lifecycle(label, g) {
    var addrs = Object.keys(g.podEpochs || {}).sort();
    var spans = g.podUnhealthySpans || {};
    var lo = Infinity, hi = Date.now() / 1000;
    addrs.forEach(function (a) {
      g.podEpochs[a].concat(spans[a] || []).forEach(function (e) {
        var f = t(e.firstContact || e.from), l = t(e.lastContact || e.to);
        if (f !== null) lo = Math.min(lo, f);
        if (l !== null) hi = Math.max(hi, l);
      });
    });
    if (!isFinite(lo)) lo = hi - 60;
    if (hi - lo < 2) lo = hi - 2;
    lo -= (hi - lo) * 0.03;
    var W = 900, L = 150, R = 16, ROW = 24, T = 22, B = 28;
    var H = T + B + ROW * Math.max(1, addrs.length);
    var s = GC.svg("svg", { viewBox: "0 0 " + W + " " + H, class: "lifecycle", role: "img", "aria-label": "pod lifecycles of " + label });
    GC.svg("text", { x: L, y: 14, class: "ctitle" }, s).textContent = "Pod lifecycles (wall clock)";
    var px = function (x) { return L + (x - lo) / (hi - lo) * (W - L - R); };
    for (var i = 0; i <= 6; i++) {
      var x = lo + (hi - lo) * i / 6;
      GC.svg("line", { x1: px(x), x2: px(x), y1: T, y2: H - B, class: "grid" }, s);
      GC.svg("text", { x: px(x), y: H - B + 14, class: "tick", "text-anchor": i === 6 ? "end" : i === 0 ? "start" : "middle" }, s).textContent = clock(x);
    }
    addrs.forEach(function (a, r) {
      var y = T + r * ROW;
      var live = (g.pods || {})[a];
      var row = GC.svg("g", { "data-address": a }, s);
      GC.svg("text", { x: L - 6, y: y + 16, class: "tick", "text-anchor": "end" }, row).textContent = a;
      var es = g.podEpochs[a];
      es.forEach(function (e, k) {
        var f = t(e.firstContact), l = t(e.lastContact);
        if (f === null) return;
        var current = live && live.currentEpoch && live.currentEpoch.epoch === e.epoch;
        // A live pod's current epoch runs to now; an unhealthy one is drawn
        // vermillion unless its open span shows when that began.
        var end = current ? hi : (l === null ? f : l);
        var open = (spans[a] || []).some(function (u) { return !u.to; });
        var color = current ? (live.healthy || open ? "#009E73" : "#D55E00") : "#999999";
        var bar = GC.svg("rect", { x: px(f), y: y + 5, width: Math.max(2, px(end) - px(f)), height: ROW - 10, fill: color, class: "epoch", "data-epoch": e.epoch }, row);
        GC.svg("title", {}, bar).textContent = a + " epoch " + e.epoch + ": " + e.firstContact + " to " + e.lastContact;
        if (k > 0) {
          GC.svg("line", { x1: px(f), x2: px(f), y1: y + 2, y2: y + ROW - 2, stroke: "#000", "stroke-width": 2, class: "restart" }, row);
        }
      });
      (spans[a] || []).forEach(function (u) {
        var f = t(u.from), l = u.to ? t(u.to) : hi;
        if (f === null || l === null) return;
        var r = GC.svg("rect", { x: px(f), y: y + 3, width: Math.max(2, px(l) - px(f)), height: ROW - 6, fill: "#D55E00", stroke: "#000", "stroke-width": 0.5, class: "unhealthy", "data-epoch": u.epoch }, row);
        GC.svg("title", {}, r).textContent = a + " unhealthy (epoch " + u.epoch + "): " + u.from + " to " + (u.to || "now");
      });
      if (!live) {
        var last = es.length ? t(es[es.length - 1].lastContact) : null;
        if (last !== null) GC.svg("text", { x: px(last) + 4, y: y + 16, class: "tick gone" }, row).textContent = "✕ gone";
      }
    });
    var fig = el("figure", { class: "chart wide" });
    fig.appendChild(s);
    var lg = el("div", { class: "legend" });
    [["#009E73", "current epoch, healthy"], ["#D55E00", "unhealthy (probes failed)"], ["#999999", "past epoch"], ["#000000", "restart (new epoch)"]].forEach(function (x) {
      var it = el("span", { class: "lg" }), sw = el("span", { class: "sw" });
      sw.style.borderColor = x[0];
      it.appendChild(sw); it.appendChild(document.createTextNode(x[1]));
      lg.appendChild(it);
    });
    lg.appendChild(el("span", { class: "lg" }, "✕ gone: deregistered or cleaned up"));
    fig.appendChild(lg);
    return fig;
  }

  function podTable(g) {
    var tbl = el("table", { class: "pods" });
    var head = el("tr");
    ["address", "pod", "healthy", "epoch", "first contact", "last contact", "epochs"].forEach(function (h) { head.appendChild(el("th", {}, h)); });
    tbl.appendChild(head);
    Object.keys(g.podEpochs || {}).sort().forEach(function (a) {
      var p = (g.pods || {})[a], es = g.podEpochs[a], last = es[es.length - 1] || {};
      var tr = el("tr", { "data-address": a });
      [a, p ? p.name : last.name, p ? (p.healthy ? "yes" : "no") : "gone", p ? p.currentEpoch.epoch : last.epoch,
        (p ? p.currentEpoch : last).firstContact, (p ? p.currentEpoch : last).lastContact, es.length].forEach(function (c, i) {
        tr.appendChild(el("td", { "data-field": ["address", "pod", "healthy", "epoch", "first", "last", "epochs"][i] }, c));
      });
      tbl.appendChild(tr);
    });
    return tbl;
  }

  // The pod name of a per-peer address (`address` or `address#epoch`).
  function podName(g, key) {
    var i = key.lastIndexOf("#"), a = i > 0 ? key.slice(0, i) : key;
    var p = (g.pods || {})[a];
    if (i < 0 && p) return p.name;
    var es = (g.podEpochs || {})[a] || [], want = i > 0 ? Number(key.slice(i + 1)) : null;
    for (var k = es.length - 1; k >= 0; k--) if (want === null || es[k].epoch === want) return es[k].name;
    return "";
  }

  function fix(v, d) { return typeof v === "number" && isFinite(v) ? (Math.round(v * Math.pow(10, d)) / Math.pow(10, d)).toFixed(d) : "–"; }

  // A row's requests (and errors, vermillion) per second on the target's
  // shared time and rate scale, so the rows compare by eye.
  function spark(ps, x0, x1, yMax) {
    var W = 160, H = 28, s = GC.svg("svg", { viewBox: "0 0 " + W + " " + H, class: "spark", width: W, height: H, role: "img" });
    var px = function (x) { return 1 + (x - x0) / Math.max(1, x1 - x0) * (W - 2); };
    var py = function (y) { return H - 2 - y / Math.max(1, yMax) * (H - 4); };
    [[1, "#0072B2"], [2, "#D55E00"]].forEach(function (c) {
      if (c[0] === 2 && !ps.some(function (x) { return x[2] > 0; })) return;
      GC.svg("polyline", { points: ps.map(function (x) { return px(x[0]).toFixed(1) + "," + py(x[c[0]]).toFixed(1); }).join(" "), fill: "none", stroke: c[1], "stroke-width": 1.2 }, s);
      // One second is no line: a dot.
      if (ps.length === 1) GC.svg("circle", { cx: px(ps[0][0]), cy: py(ps[0][c[0]]), r: 2, fill: c[1] }, s);
    });
    GC.svg("title", {}, s).textContent = "requests per second, peak " + ps.reduce(function (m, x) { return Math.max(m, x[1]); }, 0);
    return s;
  }

  var PEER_COLS = [["address", "address"], ["pod", "pod"], ["requests", "requests"], ["errors", "errors"],
    ["rps", "req/s"], ["errorPct", "errors (%)"], ["invocations", "sent"], ["p50", "p50 (ms)"], ["p90", "p90 (ms)"], ["p99", "p99 (ms)"]];

  // Which pod is slow: one row per instance that reported the target,
  // slowest whole-run p99 first (then p90, p50), the slowest marked.
  function peerTable(label, target, g, byPeer) {
    var rows = Object.keys(byPeer || {}).filter(function (k) { return byPeer[k][target]; }).map(function (k) {
      var v = byPeer[k][target], lat = v.latencyMs || {};
      return { key: k, v: v, lat: lat, has: typeof lat.p99 === "number" };
    });
    var cmp = function (a, b) { return (b.has - a.has) || ["p99", "p90", "p50"].reduce(function (r, p) { return r || (b.lat[p] || 0) - (a.lat[p] || 0); }, 0) || (a.key < b.key ? -1 : 1); };
    rows.sort(cmp);
    var x0 = Infinity, x1 = -Infinity, yMax = 0;
    rows.forEach(function (r) {
      (r.v.perSecond || []).forEach(function (x) { x0 = Math.min(x0, x[0]); x1 = Math.max(x1, x[0]); yMax = Math.max(yMax, x[1]); });
    });
    var box = el("div", { class: "peers-of", "data-target": target });
    box.appendChild(el("h3", {}, label + " / " + target + ": per peer (slowest first)"));
    var tbl = el("table", { class: "peers" });
    var head = el("tr");
    PEER_COLS.forEach(function (c) { head.appendChild(el("th", {}, c[1])); });
    head.appendChild(el("th", {}, "req/s over time"));
    tbl.appendChild(head);
    var marked = rows.length > 1 && rows[0].has;
    rows.forEach(function (r, i) {
      var v = r.v, slow = marked && i === 0;
      var cells = {
        address: r.key, pod: podName(g, r.key), requests: v.requests, errors: v.errors,
        rps: v.seconds > 0 ? fix(v.requests / v.seconds, 1) : "–",
        errorPct: v.requests > 0 ? fix(100 * v.errors / v.requests, 2) : "–",
        invocations: v.invocations === null || v.invocations === undefined ? "–" : v.invocations,
        p50: r.has ? r.lat.p50 : "–", p90: r.has ? r.lat.p90 : "–", p99: r.has ? r.lat.p99 : "–"
      };
      var tr = el("tr", { "data-address": r.key, class: slow ? "slowest" : "" });
      PEER_COLS.forEach(function (c) {
        var td = el("td", { "data-field": c[0] }, cells[c[0]]);
        if (slow && c[0] === "address") td.appendChild(el("span", { class: "badge" }, "slowest"));
        tr.appendChild(td);
      });
      var sp = el("td", { class: "sparkcell" });
      if ((v.perSecond || []).length) sp.appendChild(spark(v.perSecond, x0, x1, yMax));
      tr.appendChild(sp);
      tbl.appendChild(tr);
    });
    var sc = el("div", { class: "scroll" });
    sc.appendChild(tbl);
    box.appendChild(sc);
    return box;
  }

  function fleet(label, byTarget, g, byPeer) {
    var wrap = el("div");
    var box = el("div", { class: "charts" });
    wrap.appendChild(box);
    var seen = {};
    Object.keys(byPeer || {}).forEach(function (k) { Object.keys(byPeer[k] || {}).forEach(function (t) { seen[t] = true; }); });
    Object.keys(seen).sort().forEach(function (target) { wrap.appendChild(peerTable(label, target, g, byPeer)); });
    Object.keys(byTarget || {}).sort().forEach(function (target) {
      var secs = byTarget[target] || [];
      var pts = function (f) { return secs.map(function (x) { return [x.t, f(x)]; }); };
      box.appendChild(GC.lineChart({
        title: label + " / " + target + ": merged req/s and peers", unit: "req/s", xUnit: "time since the first merged second",
        series: [
          { name: "req/s (all peers)", color: "#0072B2", points: pts(function (x) { return x.rps; }) },
          { name: "peers reporting", color: "#000000", dash: "2 3", points: pts(function (x) { return x.peers; }) }
        ]
      }));
      box.appendChild(GC.lineChart({
        title: label + " / " + target + ": merged latency", unit: "ms", xUnit: "time since the first merged second",
        series: ["p50", "p90", "p99"].map(function (k, i) {
          return { name: k, color: ["#009E73", "#E69F00", "#CC79A7"][i], points: pts(function (x) { return x.latencyMs ? x.latencyMs[k] : null; }) };
        })
      }));
    });
    return wrap;
  }

  function lockers(label) {
    return U.getJSON("/registry/peers/" + encodeURIComponent(label) + "/locker").then(function (byAddr) {
      var box = el("div", { class: "lockers" });
      Object.keys(byAddr).sort().forEach(function (a) {
        var d = el("details");
        d.appendChild(el("summary", {}, a + " (" + Object.keys(byAddr[a] || {}).length + " keys)"));
        var tbl = el("table");
        Object.keys(byAddr[a] || {}).sort().forEach(function (k) {
          var v = byAddr[a][k] || {};
          var tr = el("tr");
          tr.appendChild(el("td", {}, k));
          tr.appendChild(el("td", {}, v.LastReported || ""));
          tr.appendChild(el("td", { class: "data" }, String(v.Data || "").slice(0, 200)));
          tbl.appendChild(tr);
        });
        d.appendChild(tbl);
        box.appendChild(d);
      });
      return box;
    });
  }

  // A label's report as one self-contained HTML text: the page's own
  // stylesheet and drawing code inlined with the label's summed results
  // and merged timeline (GET /registry/peers/lockers/targets/results and
  // .../timeline), the same page as /ui/report draws.
  function labelReport(label) {
    var a = function (n) { return U.getText("/ui/assets/" + n); };
    return Promise.all([a("style.css"), a("charts.js"), a("views.js"),
      U.getJSON("/registry/peers/lockers/targets/results"),
      U.getJSON("/registry/peers/lockers/targets/results/timeline")]).then(function (v) {
      var tl = {};
      var merged = v[4][label] || {};
      Object.keys(merged).forEach(function (t) {
        // Merged seconds are one wall-clock second each.
        tl[t] = merged[t].map(function (x) { var y = Object.assign({}, x); y.seconds = 1; return y; });
      });
      var data = { title: "goto fleet results: " + label, generated: new Date().toISOString(),
        results: v[3][label] || {}, timeline: tl, figures: {}, targets: {} };
      var json = JSON.stringify(data).replace(/<\//g, "<\\/").replace(/<!--/g, "<\\u0021--");
      var esc = function (x) { return x.replace(/&/g, "&amp;").replace(/</g, "&lt;"); };
      return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" +
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" + esc(data.title) + "</title>" +
        "<style>" + v[0] + "</style></head><body><main id=\"report\"></main>" +
        "<script>" + v[1] + "</script><script>" + v[2] + "</script>" +
        "<script id=\"report-data\" type=\"application/json\">" + json + "</script>" +
        "<script>GV.renderReport(document.getElementById(\"report\"), JSON.parse(document.getElementById(\"report-data\").textContent));</script>" +
        "</body></html>";
    });
  }

  function poll() {
    return Promise.all([
      U.getJSON("/registry/peers"),
      U.getJSON("/registry/peers/lockers/targets/results/timeline").catch(function () { return {}; }),
      U.getJSON("/registry/peers/lockers/targets/results/peers?seconds=Y").catch(function () { return {}; })
    ]).then(function (v) {
      var peers = v[0], tl = v[1], byPeer = v[2];
      var body = el("div");
      var labels = Object.keys(peers).sort();
      if (!labels.length) body.appendChild(el("p", {}, "No peers registered with this instance (peers start with --registry URL)."));
      var pending = [];
      labels.forEach(function (label) {
        var sec = el("section", { class: "label", "data-label": label });
        sec.appendChild(el("h2", {}, label + ": " + Object.keys(peers[label].pods || {}).length + " pods"));
        sec.appendChild(podTable(peers[label]));
        sec.appendChild(lifecycle(label, peers[label]));
        sec.appendChild(fleet(label, tl[label], peers[label], byPeer[label]));
        var b = el("button", { type: "button" }, lockerOpen === label ? "Hide lockers" : "Browse lockers");
        b.onclick = function () { lockerOpen = lockerOpen === label ? null : label; U.refreshSoon(); };
        sec.appendChild(b);
        var rep = el("button", { type: "button" }, "HTML report");
        rep.onclick = function () {
          labelReport(label).then(function (html) {
            window.open(URL.createObjectURL(new Blob([html], { type: "text/html" })), "_blank");
          });
        };
        sec.appendChild(rep);
        if (lockerOpen === label) {
          var slot = el("div");
          sec.appendChild(slot);
          pending.push(lockers(label).then(function (n) { slot.appendChild(n); }));
        }
        body.appendChild(sec);
      });
      return Promise.all(pending).then(function () {
        // Keep open locker details open across refreshes.
        var open = {};
        document.querySelectorAll("#r-body details[open] summary").forEach(function (s) { open[s.textContent] = true; });
        body.querySelectorAll("details summary").forEach(function (s) { if (open[s.textContent]) s.parentNode.open = true; });
        U.replace("r-body", body);
      });
    });
  }

  U.views.registry = poll;
  U.labelReport = labelReport;
})();
