// goto UI: the server view, per listener port. Reads GET /listeners and
// GET /metrics (every port's counters, from any listener), sampling the
// counters once a second while the view is open to chart them over time;
// the port the page is served on adds GET /request/timeout/status and
// GET /request/proxy/targets (per-port state answers on its own port).
"use strict";
(function () {
  var U = window.GOTO_UI, el = GC.el;
  var HISTORY = 300; // samples kept (5 minutes at 1 s)
  var samples = []; // [{at: seconds, m: parsed metrics}]

  // Prometheus text: [{name, labels, value}] (comments skipped).
  function parseMetrics(text) {
    var out = [];
    text.split("\n").forEach(function (line) {
      if (!line || line.charAt(0) === "#") return;
      var m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) return;
      var labels = {}, re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g, l;
      while ((l = re.exec(m[3] || ""))) labels[l[1]] = l[2].replace(/\\(.)/g, function (_, c) { return c === "n" ? "\n" : c; });
      out.push({ name: m[1], labels: labels, value: Number(m[4]) });
    });
    return out;
  }

  // {key: value} of one metric on one port, keyed by `by` labels.
  function pick(m, name, port, by) {
    var out = {};
    m.forEach(function (s) {
      if (s.name !== name || s.labels.port !== port) return;
      var k = by.map(function (b) { return s.labels[b]; }).join(" ");
      out[k] = (out[k] || 0) + s.value;
    });
    return out;
  }

  function rates(name, port, by) {
    // Per-second deltas between consecutive samples: {key: [[t, rate]]}.
    var series = {};
    for (var i = 1; i < samples.length; i++) {
      var a = pick(samples[i - 1].m, name, port, by), b = pick(samples[i].m, name, port, by);
      var dt = samples[i].at - samples[i - 1].at;
      if (dt <= 0) continue;
      Object.keys(b).forEach(function (k) {
        (series[k] = series[k] || []).push([samples[i].at - samples[0].at, Math.max(0, (b[k] - (a[k] || 0)) / dt)]);
      });
    }
    return series;
  }

  function kvTable(id, head, rows) {
    var t = el("table", { id: id });
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", {}, h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el("tr", { "data-key": r[0] });
      r.forEach(function (c, i) { row.appendChild(el("td", i ? { "data-field": head[i] } : {}, c)); });
      t.appendChild(row);
    });
    if (!rows.length) t.appendChild(el("tr")).appendChild(el("td", { colspan: head.length }, "none"));
    return t;
  }

  function render(port, m, listeners, here, timeouts, proxies) {
    var box = el("div");
    var statusRates = rates("goto_requests_total", port, ["status"]);
    var faultRates = rates("goto_faults_total", port, ["kind"]);
    var series = Object.keys(statusRates).sort().map(function (s) {
      return { name: s, color: GC.statusColor(s), points: statusRates[s] };
    });
    var faultColor = { status: "#000000", delay: "#CC79A7", close: "#0072B2", size: "#56B4E9", drip: "#E69F00", from_headers: "#009E73" };
    Object.keys(faultRates).sort().forEach(function (k) {
      if (!faultRates[k].some(function (p) { return p[1] > 0; })) return;
      series.push({ name: "fault: " + k, color: faultColor[k] || "#000000", dash: "5 3", points: faultRates[k] });
    });
    var charts = el("div", { class: "charts" });
    charts.appendChild(GC.lineChart({ title: "Port " + port + ": responses by status and faults injected", unit: "per second",
      xUnit: "seconds since the view opened", series: series }));
    box.appendChild(charts);
    var status = pick(m, "goto_requests_total", port, ["status"]);
    box.appendChild(el("h3", {}, "Responses by status (since the counts were cleared)"));
    box.appendChild(kvTable("s-status", ["status", "responses"], Object.keys(status).sort().map(function (k) { return [k, status[k]]; })));
    var faults = pick(m, "goto_faults_total", port, ["kind"]);
    var fstat = pick(m, "goto_fault_statuses_total", port, ["status"]);
    box.appendChild(el("h3", {}, "Faults injected"));
    box.appendChild(kvTable("s-faults", ["fault", "count"], Object.keys(faults).sort().map(function (k) { return [k, faults[k]]; })
      .concat(Object.keys(fstat).sort().map(function (k) { return ["status " + k, fstat[k]]; }))));
    var tracked = pick(m, "goto_tracked_header_requests_total", port, ["header", "value"]);
    var top = Object.keys(tracked).sort(function (a, b) { return tracked[b] - tracked[a]; }).slice(0, 20);
    box.appendChild(el("h3", {}, "Tracked header values (top 20)"));
    box.appendChild(kvTable("s-tracked", ["header value", "requests"], top.map(function (k) { return [k, tracked[k]]; })));
    var up = pick(m, "goto_proxy_requests_total", port, ["target", "status"]);
    var fail = pick(m, "goto_proxy_failures_total", port, ["target"]);
    box.appendChild(el("h3", {}, "Proxy upstream statuses"));
    box.appendChild(kvTable("s-proxy", ["target status", "responses"], Object.keys(up).sort().map(function (k) { return [k, up[k]]; })
      .concat(Object.keys(fail).sort().map(function (k) { return [k + " failures", fail[k]]; }))));
    if (here) {
      box.appendChild(el("h3", {}, "Proxy targets of this port"));
      box.appendChild(kvTable("s-proxy-targets", ["target", "url", "enabled"], (proxies || []).map(function (p) { return [p.name, p.url, String(p.enabled)]; })));
      box.appendChild(el("h3", {}, "Timeout tracking of this port"));
      var all = (timeouts && timeouts.all) || {};
      box.appendChild(kvTable("s-timeouts", ["requests", "count"], Object.keys(all).map(function (k) { return [k, all[k]]; })));
    } else {
      box.appendChild(el("p", { class: "meta" }, "Proxy targets and timeout tracking are per-port state: open the UI on port " + port + " to see them."));
    }
    return box;
  }

  function poll() {
    var here = location.port || (location.protocol === "https:" ? "443" : "80");
    return Promise.all([
      U.getJSON("/listeners"),
      U.getText("/metrics"),
      U.getJSON("/request/timeout/status").catch(function () { return null; }),
      U.getJSON("/request/proxy/targets").catch(function () { return []; })
    ]).then(function (v) {
      var ports = Object.keys(v[0]).filter(function (p) { return v[0][p].protocol !== "tcp"; });
      var sel = document.getElementById("s-port");
      U.syncSelect(sel, ports);
      if (!sel.value) sel.value = ports.indexOf(here) >= 0 ? here : ports[0];
      var m = parseMetrics(v[1]);
      samples.push({ at: Date.now() / 1000, m: m });
      if (samples.length > HISTORY) samples.shift();
      var port = sel.value;
      U.replace("s-body", render(port, m, v[0], port === here, v[2], v[3]));
    });
  }

  document.getElementById("s-port").onchange = function () { U.refreshSoon(); };
  U.views.server = poll;
})();
