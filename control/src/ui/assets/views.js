// goto UI: the client figures and charts, shared by the live client view
// and the HTML reports. Input is the JSON the API serves: `results`
// (/client/results), `timeline` (/client/results/timeline), `figures`
// (/ui/data/targets), `targets` (/client/targets), `active`
// (/client/targets/active, live only) and `asked` (rates set from the page).
"use strict";
var GV = (function () {
  var el = GC.el;

  function num(v) { return typeof v === "number" && isFinite(v) ? v : 0; }

  function targetNames(d) {
    var seen = {};
    [d.targets, d.results && d.results.targetInvocationCounts, d.timeline, d.figures].forEach(function (m) {
      Object.keys(m || {}).forEach(function (k) { seen[k] = true; });
    });
    return Object.keys(seen).sort();
  }

  function activeState(d, name) {
    var inv = (d.active && d.active.activeInvocations) || {};
    var state = null;
    Object.keys(inv).forEach(function (id) {
      var t = inv[id][name];
      if (!t || t.finished) return;
      state = t.stopRequested ? "stopping" : "running";
    });
    return state;
  }

  // One target's table figures, each straight from an API field.
  function row(d, name) {
    var r = d.results || {};
    var codes = (r.countsByTargetStatusCode || {})[name] || {};
    var requests = num((r.targetInvocationCounts || {})[name]);
    var failed = num(codes["0"]);
    var ok = 0;
    Object.keys(codes).forEach(function (c) { if (c.charAt(0) === "2" || c.charAt(0) === "3") ok += codes[c]; });
    var tl = (d.timeline || {})[name] || [];
    var last = tl.length ? tl[tl.length - 1] : null;
    var state = activeState(d, name);
    var totalSecs = 0, totalReqs = 0;
    tl.forEach(function (i) { totalSecs += num(i.seconds); totalReqs += num(i.requests); });
    var t = (d.targets || {})[name] || {};
    var lat = (r.latencyByTarget || {})[name] || {};
    var lag = (r.lagByTarget || {})[name] || {};
    var fig = (d.figures || {})[name] || {};
    return {
      name: name,
      state: state || (requests > 0 ? "finished" : "idle"),
      rateAsked: (d.asked && d.asked[name]) || t.rate || null,
      // Live: the last interval's rate; after the run: over all of it.
      rateAchieved: state && last ? num(last.rps) : (totalSecs > 0 ? totalReqs / totalSecs : null),
      requests: requests,
      answered: requests - failed,
      errors: failed,
      success: requests > 0 ? 100 * ok / requests : null,
      inFlight: state ? num(fig.inFlight) : 0,
      conns: num((r.openConnectionsByTarget || {})[name]),
      p50: lat.p50, p90: lat.p90, p99: lat.p99,
      lagP99: lag.p99
    };
  }

  var COLUMNS = [
    ["name", "target"], ["state", "state"], ["rateAsked", "asked (req/s)"],
    ["rateAchieved", "achieved (req/s)"], ["requests", "requests"], ["answered", "answered"],
    ["errors", "errors"], ["success", "ok (%)"], ["inFlight", "in flight"], ["conns", "conns"],
    ["p50", "p50 (ms)"], ["p90", "p90 (ms)"], ["p99", "p99 (ms)"], ["lagP99", "lag p99 (ms)"]
  ];

  function cell(k, v) {
    if (v === null || v === undefined) return "–";
    if (k === "rateAchieved" || k === "rateAsked") return String(Math.round(v * 10) / 10);
    if (k === "success") return (Math.round(v * 100) / 100).toFixed(2);
    return String(v);
  }

  function summaryTable(d, onRow) {
    var tbl = el("table", { class: "summary", id: "targets-table" });
    var head = el("tr");
    COLUMNS.forEach(function (c) { head.appendChild(el("th", {}, c[1])); });
    if (onRow) head.appendChild(el("th", {}, "controls"));
    tbl.appendChild(el("thead")).appendChild(head);
    var body = tbl.appendChild(el("tbody"));
    targetNames(d).forEach(function (name) {
      var r = row(d, name);
      var tr = el("tr", { "data-target": name });
      COLUMNS.forEach(function (c) {
        var td = el("td", { "data-field": c[0], class: c[0] === "state" ? "st-" + r.state : "" }, cell(c[0], r[c[0]]));
        tr.appendChild(td);
      });
      if (onRow) tr.appendChild(onRow(r));
      body.appendChild(tr);
    });
    if (!body.children.length) {
      var tr = el("tr");
      tr.appendChild(el("td", { colspan: COLUMNS.length + 1 }, "No targets yet: add one with POST /client/targets/add."));
      body.appendChild(tr);
    }
    return tbl;
  }

  function codeKeys(tl) {
    var seen = {};
    tl.forEach(function (i) { Object.keys(i.countsByStatusCodes || {}).forEach(function (c) { seen[c] = true; }); });
    return Object.keys(seen).sort();
  }

  function latencyTable(name, d) {
    var f = (d.figures || {})[name] || {};
    var tbl = el("table", { class: "lat" });
    var head = el("tr");
    ["latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"].forEach(function (h) { head.appendChild(el("th", {}, h)); });
    tbl.appendChild(head);
    [["corrected", "corrected (from the schedule)"], ["uncorrected", "uncorrected (from the send)"], ["lag", "schedule lag"]].forEach(function (k) {
      var h = f[k[0]] || {};
      var tr = el("tr", { "data-kind": k[0] });
      tr.appendChild(el("td", {}, k[1]));
      ["count", "p50", "p90", "p99", "p99.9", "max"].forEach(function (p) { tr.appendChild(el("td", { "data-field": p }, h[p] === undefined ? "–" : h[p])); });
      tbl.appendChild(tr);
    });
    return tbl;
  }

  // Per target: throughput, latency over time, status mix, spectrum.
  function targetSection(name, d, marks) {
    var sec = el("section", { class: "target", "data-target": name });
    sec.appendChild(el("h3", {}, name));
    var tl = (d.timeline || {})[name] || [];
    // Marks carry wall-clock seconds; the charts' x is time since start.
    var lastI = tl.length ? tl[tl.length - 1] : null;
    marks = (marks || []).map(function (m) {
      return { x: lastI ? lastI.t - (lastI.unix - m.unix) : 0, label: m.label };
    });
    var charts = el("div", { class: "charts" });
    var pts = function (f) { return tl.map(function (i) { return [i.t, f(i)]; }); };
    var errs = function (i) {
      var e = 0;
      Object.keys(i.errors || {}).forEach(function (k) { e += i.errors[k]; });
      return i.seconds > 0 ? e / i.seconds : 0;
    };
    charts.appendChild(GC.lineChart({
      title: "Answered and errors", unit: "req/s", xUnit: "time since start", marks: marks,
      series: [
        { name: "req/s", color: "#0072B2", points: pts(function (i) { return i.rps; }) },
        { name: "errors/s", color: "#D55E00", points: pts(errs) }
      ]
    }));
    var lm = function (k) { return pts(function (i) { return i.latencyMs ? i.latencyMs[k] : null; }); };
    // Uncorrected figures come only in the open model (where they differ);
    // an interval without them had the same figures as the corrected ones.
    var open = tl.some(function (i) { return !!i.latencyUncorrectedMs; });
    var lu = function (k) {
      return pts(function (i) {
        var u = i.latencyUncorrectedMs || i.latencyMs;
        return u ? u[k] : null;
      });
    };
    var lat = [
      { name: "p50", color: "#009E73", points: lm("p50") },
      { name: "p90", color: "#E69F00", points: lm("p90") },
      { name: "p99", color: "#CC79A7", points: lm("p99") }
    ];
    if (open) {
      lat = lat.concat([
        { name: "p50 uncorrected", color: "#009E73", dash: "6 3", points: lu("p50") },
        { name: "p90 uncorrected", color: "#E69F00", dash: "6 3", points: lu("p90") },
        { name: "p99 uncorrected", color: "#CC79A7", dash: "6 3", points: lu("p99") }
      ]);
    }
    charts.appendChild(GC.lineChart({
      title: open ? "Latency per interval (corrected solid, uncorrected dashed)" : "Latency per interval",
      unit: "ms", xUnit: "time since start", marks: marks, series: lat
    }));
    var codes = codeKeys(tl);
    charts.appendChild(GC.stackedBars({
      title: "Status mix per interval", unit: "responses", xUnit: "time since start",
      times: tl.map(function (i) { return i.t; }),
      stacks: codes.map(function (c) {
        return { name: c === "0" ? "errors" : c, color: GC.statusColor(c), values: tl.map(function (i) { return (i.countsByStatusCodes || {})[c] || 0; }) };
      })
    }));
    var f = (d.figures || {})[name] || {};
    var sp = function (k) { return (f[k] && f[k].spectrum) || []; };
    charts.appendChild(GC.spectrum({
      title: "Latency spectrum",
      series: [
        { name: "corrected", color: "#0072B2", points: sp("corrected") },
        { name: "uncorrected", color: "#E69F00", dash: "6 3", points: sp("uncorrected") },
        { name: "schedule lag", color: "#000000", dash: "2 3", points: sp("lag") }
      ]
    }));
    sec.appendChild(charts);
    var wrap = el("div", { class: "scroll" });
    wrap.appendChild(latencyTable(name, d));
    sec.appendChild(wrap);
    return sec;
  }

  // Status counts over the whole run, per target.
  function statusMix(d) {
    var r = d.results || {};
    var tbl = el("table", { class: "mix", id: "status-mix" });
    var head = el("tr");
    head.appendChild(el("th", {}, "target"));
    head.appendChild(el("th", {}, "status"));
    head.appendChild(el("th", {}, "responses"));
    tbl.appendChild(head);
    var by = r.countsByTargetStatus || {};
    Object.keys(by).sort().forEach(function (t) {
      Object.keys(by[t]).sort().forEach(function (s) {
        var tr = el("tr", { "data-target": t, "data-status": s });
        tr.appendChild(el("td", {}, t));
        tr.appendChild(el("td", {}, s));
        tr.appendChild(el("td", { "data-field": "count" }, by[t][s]));
        tbl.appendChild(tr);
      });
    });
    return tbl;
  }

  // The whole report page into `root` (data inlined by the writer).
  function renderReport(root, d) {
    root.appendChild(el("h1", {}, d.title || "goto report"));
    if (d.generated) root.appendChild(el("p", { class: "meta" }, "Generated " + d.generated + (d.command ? " by: " + d.command : "")));
    root.appendChild(el("h2", {}, "Summary"));
    var wrap = el("div", { class: "scroll" });
    wrap.appendChild(summaryTable(d));
    root.appendChild(wrap);
    root.appendChild(el("h2", {}, "Status mix"));
    root.appendChild(statusMix(d));
    root.appendChild(el("h2", {}, "Targets"));
    targetNames(d).forEach(function (n) { root.appendChild(targetSection(n, d, [])); });
  }

  return { row: row, targetNames: targetNames, summaryTable: summaryTable, targetSection: targetSection,
    statusMix: statusMix, renderReport: renderReport, cell: cell };
})();
