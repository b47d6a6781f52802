// goto UI: SVG charts with axes, units and a colour-blind-safe palette
// (Okabe and Ito). No dependencies; every function returns a DOM node.
"use strict";
var GC = (function () {
  var NS = "http://www.w3.org/2000/svg";
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // Colours of status classes: 2xx green, 3xx sky, 4xx orange, 5xx
  // vermillion, transport errors (code 0) black.
  function statusColor(code) {
    var c = String(code).charAt(0);
    return { "2": "#009E73", "3": "#56B4E9", "4": "#E69F00", "5": "#D55E00" }[c] || "#000000";
  }

  function niceStep(span, n) {
    var raw = span / Math.max(1, n);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function fmt(v) {
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 100) return v.toFixed(0);
    if (a >= 1) return String(Math.round(v * 100) / 100);
    return String(Math.round(v * 1000) / 1000);
  }

  function fmtSeconds(s) {
    if (s < 60) return fmt(s) + "s";
    var m = Math.floor(s / 60), r = Math.round(s % 60);
    return m + "m" + (r ? r + "s" : "");
  }

  // Line chart. opts: title, unit (y), xUnit, series [{name, color, dash,
  // points [[x, y]]}], xTicks (optional [[x, label]]), xFormat, yMin.
  function lineChart(opts) {
    var W = 560, H = 220, L = 56, R = 12, T = 26, B = 34;
    var box = el("figure", { class: "chart" });
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title });
    box.appendChild(s);
    svg("text", { x: L, y: 16, class: "ctitle" }, s).textContent = opts.title + (opts.unit ? " (" + opts.unit + ")" : "");
    var xs = [], ys = [];
    opts.series.forEach(function (se) {
      se.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined || !isFinite(p[1])) return;
        xs.push(p[0]); ys.push(p[1]);
      });
    });
    var x0 = opts.xMin !== undefined ? opts.xMin : (xs.length ? Math.min.apply(null, xs) : 0);
    var x1 = opts.xMax !== undefined ? opts.xMax : (xs.length ? Math.max.apply(null, xs) : 1);
    if (x1 <= x0) x1 = x0 + 1;
    var yMax = ys.length ? Math.max.apply(null, ys) : 1;
    if (!(yMax > 0)) yMax = 1;
    var step = niceStep(yMax, 4);
    yMax = Math.ceil(yMax / step) * step;
    var px = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    var py = function (y) { return H - B - y / yMax * (H - T - B); };
    // Axes and grid.
    for (var y = 0; y <= yMax + step / 2; y += step) {
      svg("line", { x1: L, x2: W - R, y1: py(y), y2: py(y), class: "grid" }, s);
      svg("text", { x: L - 6, y: py(y) + 4, class: "tick", "text-anchor": "end" }, s).textContent = fmt(y);
    }
    var ticks = opts.xTicks;
    if (!ticks) {
      ticks = [];
      var xs2 = niceStep(x1 - x0, 6);
      for (var x = Math.ceil(x0 / xs2) * xs2; x <= x1 + 1e-9; x += xs2) ticks.push([x, (opts.xFormat || fmtSeconds)(x)]);
    }
    ticks.forEach(function (t) {
      svg("line", { x1: px(t[0]), x2: px(t[0]), y1: H - B, y2: H - B + 4, class: "axis" }, s);
      svg("text", { x: px(t[0]), y: H - B + 16, class: "tick", "text-anchor": "middle" }, s).textContent = t[1];
    });
    svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, s);
    svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, s);
    if (opts.xUnit) svg("text", { x: W - R, y: H - 4, class: "tick", "text-anchor": "end" }, s).textContent = opts.xUnit;
    // Marks drawn on the time axis (events such as a rate change).
    (opts.marks || []).forEach(function (m) {
      if (m.x < x0 - 1 || m.x > x1 + 1) return;
      m = { x: Math.min(x1, Math.max(x0, m.x)), label: m.label };
      svg("line", { x1: px(m.x), x2: px(m.x), y1: T, y2: H - B, class: "mark" }, s);
      svg("text", { x: px(m.x) + 3, y: T + 10, class: "tick" }, s).textContent = m.label;
    });
    opts.series.forEach(function (se, i) {
      var d = "", pen = false;
      se.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined || !isFinite(p[1])) { pen = false; return; }
        d += (pen ? "L" : "M") + px(p[0]).toFixed(1) + " " + py(p[1]).toFixed(1);
        pen = true;
      });
      var color = se.color || PALETTE[i % PALETTE.length];
      if (d) {
        var path = svg("path", { d: d, fill: "none", stroke: color, "stroke-width": se.width || 2 }, s);
        if (se.dash) path.setAttribute("stroke-dasharray", se.dash);
      }
      if (se.points.length === 1) svg("circle", { cx: px(se.points[0][0]), cy: py(se.points[0][1]), r: 3, fill: color }, s);
    });
    box.appendChild(legend(opts.series));
    return box;
  }

  function legend(series) {
    var lg = el("div", { class: "legend" });
    series.forEach(function (se, i) {
      var item = el("span", { class: "lg" });
      var sw = el("span", { class: "sw" + (se.dash ? " dash" : "") });
      sw.style.borderColor = se.color || PALETTE[i % PALETTE.length];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(se.name));
      lg.appendChild(item);
    });
    return lg;
  }

  // Stacked bars over time. opts: title, unit, times [x], stacks
  // [{name, color, values [y per time]}].
  function stackedBars(opts) {
    var W = 560, H = 220, L = 56, R = 12, T = 26, B = 34;
    var box = el("figure", { class: "chart" });
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title });
    box.appendChild(s);
    svg("text", { x: L, y: 16, class: "ctitle" }, s).textContent = opts.title + (opts.unit ? " (" + opts.unit + ")" : "");
    var n = opts.times.length;
    var totals = opts.times.map(function (_, i) {
      return opts.stacks.reduce(function (a, st) { return a + (st.values[i] || 0); }, 0);
    });
    var yMax = Math.max.apply(null, [1].concat(totals));
    var step = niceStep(yMax, 4);
    yMax = Math.ceil(yMax / step) * step;
    var py = function (y) { return H - B - y / yMax * (H - T - B); };
    for (var y = 0; y <= yMax + step / 2; y += step) {
      svg("line", { x1: L, x2: W - R, y1: py(y), y2: py(y), class: "grid" }, s);
      svg("text", { x: L - 6, y: py(y) + 4, class: "tick", "text-anchor": "end" }, s).textContent = fmt(y);
    }
    var bw = (W - L - R) / Math.max(1, n);
    for (var i = 0; i < n; i++) {
      var base = 0;
      opts.stacks.forEach(function (st) {
        var v = st.values[i] || 0;
        if (!v) return;
        svg("rect", { x: L + i * bw + bw * 0.1, width: Math.max(1, bw * 0.8), y: py(base + v), height: py(base) - py(base + v), fill: st.color }, s);
        base += v;
      });
    }
    var every = Math.max(1, Math.ceil(n / 6));
    for (var j = 0; j < n; j += every) {
      svg("text", { x: L + (j + 0.5) * bw, y: H - B + 16, class: "tick", "text-anchor": "middle" }, s).textContent = fmtSeconds(Math.round(opts.times[j]));
    }
    svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, s);
    svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, s);
    if (opts.xUnit) svg("text", { x: W - R, y: H - 4, class: "tick", "text-anchor": "end" }, s).textContent = opts.xUnit;
    box.appendChild(legend(opts.stacks));
    return box;
  }

  // The HDR percentile spectrum: x is log10(1 / (1 - p)), so each "nine"
  // (90, 99, 99.9 ...) gets the same width, up to 99.999%.
  function spectrum(opts) {
    var toX = function (p) { return Math.log10(1 / Math.max(1e-5, 1 - p / 100)); };
    var series = opts.series.map(function (se) {
      return { name: se.name, color: se.color, dash: se.dash, points: se.points.map(function (p) { return [toX(p[0]), p[1]]; }) };
    });
    var ticks = [[0, "0%"], [1, "90%"], [2, "99%"], [3, "99.9%"], [4, "99.99%"], [5, "99.999%"]];
    return lineChart({ title: opts.title, unit: "ms", series: series, xTicks: ticks, xMin: 0, xMax: 5, xUnit: "percentile" });
  }

  return { el: el, svg: svg, lineChart: lineChart, stackedBars: stackedBars, spectrum: spectrum,
    statusColor: statusColor, palette: PALETTE, fmt: fmt, fmtSeconds: fmtSeconds };
})();
