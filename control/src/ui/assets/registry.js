// goto UI: the registry view. Reads GET /registry/peers (labels, pods,
// epochs), GET /registry/peers/lockers/targets/results/timeline (the
// fleet's merged timeline) and, on demand, GET /registry/peers/{label}/locker.
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
  function lifecycle(label, g) {
    var addrs = Object.keys(g.podEpochs || {}).sort();
    var lo = Infinity, hi = Date.now() / 1000;
    addrs.forEach(function (a) {
      g.podEpochs[a].forEach(function (e) {
        var f = t(e.firstContact), l = t(e.lastContact);
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
        // A live pod's current epoch runs to now; an unhealthy one is drawn vermillion.
        var end = current ? hi : (l === null ? f : l);
        var color = current ? (live.healthy ? "#009E73" : "#D55E00") : "#999999";
        var bar = GC.svg("rect", { x: px(f), y: y + 5, width: Math.max(2, px(end) - px(f)), height: ROW - 10, fill: color, class: "epoch", "data-epoch": e.epoch }, row);
        GC.svg("title", {}, bar).textContent = a + " epoch " + e.epoch + ": " + e.firstContact + " to " + e.lastContact;
        if (k > 0) {
          GC.svg("line", { x1: px(f), x2: px(f), y1: y + 2, y2: y + ROW - 2, stroke: "#000", "stroke-width": 2, class: "restart" }, row);
        }
      });
      if (!live) {
        var last = es.length ? t(es[es.length - 1].lastContact) : null;
        if (last !== null) GC.svg("text", { x: px(last) + 4, y: y + 16, class: "tick gone" }, row).textContent = "✕ gone";
      }
    });
    var fig = el("figure", { class: "chart wide" });
    fig.appendChild(s);
    var lg = el("div", { class: "legend" });
    [["#009E73", "current epoch, healthy"], ["#D55E00", "current epoch, unhealthy"], ["#999999", "past epoch"], ["#000000", "restart (new epoch)"]].forEach(function (x) {
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

  function fleet(label, byTarget) {
    var box = el("div", { class: "charts" });
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
    return box;
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
      U.getJSON("/registry/peers/lockers/targets/results/timeline").catch(function () { return {}; })
    ]).then(function (v) {
      var peers = v[0], tl = v[1];
      var body = el("div");
      var labels = Object.keys(peers).sort();
      if (!labels.length) body.appendChild(el("p", {}, "No peers registered with this instance (peers start with --registry URL)."));
      var pending = [];
      labels.forEach(function (label) {
        var sec = el("section", { class: "label", "data-label": label });
        sec.appendChild(el("h2", {}, label + ": " + Object.keys(peers[label].pods || {}).length + " pods"));
        sec.appendChild(podTable(peers[label]));
        sec.appendChild(lifecycle(label, peers[label]));
        sec.appendChild(fleet(label, tl[label]));
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
