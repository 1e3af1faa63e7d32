// The report page's script and style, inlined into the one HTML file (no network, works from file://).
// Plain browser JavaScript in a string: it is run, and checked, by the browser test
// (report.browser.test.ts); it is written without template literals or backslashes so it can live in a template string.
// Kept in one file (over 500 lines with the style) so the whole page reads in one place.
//
// What scales and how: the physical map and the fault timeline are canvases (cost grows with what is
// drawn, not with RAM); the VMA list is virtualised (only visible rows are in the DOM); the
// pages-to-frames diagram draws at most LINE_CAP PTEs and says how many it left out.

export const REPORT_CSS = `
:root { --bg:#fbfbfa; --fg:#1d1d1f; --mute:#6b6b70; --line:#d9d9de; --ram:#9ccc65; --reserved:#bdbdbd;
  --legacy:#ffcc80; --window:#e3f2fd; --bar:#3f51b5; --isa:#26a69a; --claim:#ab47bc;
  --minor:#43a047; --cow:#8e24aa; --driver:#1e88e5; --sigbus:#e53935; --segv:#fb8c00; --oom:#6d4c41; --killed:#000; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { padding: 12px 18px; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 6px; }
h3 { font-size: 13px; margin: 14px 0 4px; text-transform: uppercase; letter-spacing: .04em; color: var(--mute); }
.mute { color: var(--mute); }
.eras { display: grid; gap: 14px; padding: 12px 18px; grid-template-columns: repeat(var(--n), minmax(0, 1fr)); }
@media (max-width: 900px) { .eras { grid-template-columns: minmax(0, 1fr); } }
.era { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin-top: 6px; }
.chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
canvas { display: block; width: 100%; }
.zoom { display: flex; flex-wrap: wrap; gap: 4px; margin: 4px 0; }
.zoom button { font: inherit; font-size: 12px; padding: 1px 7px; border: 1px solid var(--line); background: #f5f5f7; border-radius: 4px; cursor: pointer; }
.zoom button.on { background: #dfe7fd; border-color: #9fb3f0; }
.iomem { font-family: ui-monospace, monospace; font-size: 12px; max-height: 220px; overflow: auto; border: 1px solid var(--line); border-radius: 4px; }
.res { padding: 1px 6px; cursor: pointer; white-space: nowrap; }
.res:hover, .res.on { background: #eef2ff; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eee; white-space: nowrap; }
th { color: var(--mute); font-weight: 600; }
.mapping { overflow: auto; max-height: 520px; border: 1px solid var(--line); border-radius: 4px; }
.mapping svg { display: block; font: 11px ui-monospace, monospace; }
.frame rect { stroke: #555; stroke-width: .6; }
.frame[data-shared="1"] rect { stroke: #f57c00; stroke-width: 2.2; }
.frame:hover rect, .frame.on rect { stroke: #000; stroke-width: 2.5; }
.pte:hover text { font-weight: bold; }
.vlist { position: relative; overflow: auto; border: 1px solid var(--line); border-radius: 4px; font-family: ui-monospace, monospace; font-size: 12px; }
.vrow { position: absolute; left: 0; right: 0; height: 20px; display: flex; align-items: center; gap: 8px; padding: 0 6px; white-space: nowrap; border-bottom: 1px solid #f0f0f0; }
.vrow.head { position: sticky; top: 0; background: #f7f7f9; z-index: 1; color: var(--mute); font-family: system-ui, sans-serif; font-weight: 600; }
.vrow span { overflow: hidden; text-overflow: ellipsis; flex: none; }
.occ { display: inline-block; width: 60px; height: 8px; background: #eee; border-radius: 2px; overflow: hidden; vertical-align: middle; }
.occ i { display: block; height: 100%; background: #5c6bc0; }
.tip { position: fixed; z-index: 10; pointer-events: none; background: #222; color: #fff; padding: 6px 8px; border-radius: 4px; font-size: 12px; max-width: 380px; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
.tip b { color: #ffd54f; }
footer { padding: 8px 18px 16px; color: var(--mute); }
`;

export const REPORT_JS = `
(function () {
  "use strict";
  var t0 = performance.now();
  var LINE_CAP = 500, ROW = 18, PAGE = 4096;
  var FAULT_KINDS = ["minor", "cow", "driver", "sigbus", "segv", "oom", "killed"];
  /** The page carries PTEs, frames and faults as tuples (html.ts packForPage): back to objects. */
  function expand(m) {
    m.eras.forEach(function (e) {
      e.processes.forEach(function (p) {
        p.vmas.forEach(function (v) {
          var t = v.ptes, out = new Array(t.length / 3);
          for (var i = 0; i < t.length; i += 3) out[i / 3] = { index: t[i], pfn: t[i + 1], writable: (t[i + 2] & 1) !== 0, special: (t[i + 2] & 2) !== 0 };
          v.ptes = out;
        });
      });
      e.frames = e.frames.map(function (f) {
        return { pfn: f[0], hasPage: (f[1] & 1) !== 0, zero: (f[1] & 2) !== 0, refcount: f[2], mapcount: f[3], flags: f[4], cowOf: f[5], mappers: f[6] };
      });
      e.faults = e.faults.map(function (f) {
        return { tick: f[0], pid: f[1], addr: f[2], write: f[3] === 1, kind: FAULT_KINDS[f[4]], pfn: f[5], fromPfn: f[6] };
      });
    });
    return m;
  }
  var model = expand(JSON.parse(document.getElementById("faultline-data").textContent));
  var KIND_COLORS = { minor: "--minor", cow: "--cow", driver: "--driver", sigbus: "--sigbus", segv: "--segv", oom: "--oom", killed: "--killed" };
  var KIND_NAMES = { ram: "System RAM", reserved: "reserved", legacy: "legacy", window: "PCI window", bar: "PCI BAR", isa: "ISA device memory", claim: "claimed by a driver" };
  var RES_COLORS = { ram: "--ram", reserved: "--reserved", legacy: "--legacy", window: "--window", bar: "--bar", isa: "--isa", claim: "--claim" };
  var css = getComputedStyle(document.documentElement);
  var colors = {};
  function color(v) { return colors[v] || (colors[v] = css.getPropertyValue(v).trim() || "#888"); }
  function hex(n) { return "0x" + n.toString(16); }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function el(tag, attrs, html) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (html !== undefined) e.innerHTML = html;
    return e;
  }
  var SVG = "http://www.w3.org/2000/svg";
  function sv(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function size(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1 && n % 1024 === 0) { n /= 1024; i++; }
    if (n >= 1024 && i < u.length - 1) { n /= 1024; i++; return n.toFixed(1) + " " + u[i]; }
    return n + " " + u[i];
  }
  function pidHue(pid) { return "hsl(" + ((pid * 67) % 360) + ",60%,42%)"; }

  var tip = document.getElementById("tip");
  function showTip(html, ev) {
    tip.innerHTML = html;
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > innerWidth) x = ev.clientX - r.width - 10;
    if (y + r.height > innerHeight) y = ev.clientY - r.height - 10;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { tip.hidden = true; }

  function setupCanvas(c, h) {
    var w = c.parentElement.clientWidth || 600, dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    c.style.height = h + "px";
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { g: g, w: w, h: h };
  }

  /** Where the render time goes, per part (window.faultlineTimings, for the browser test and people). */
  var timings = {};
  window.faultlineTimings = timings;
  function timed(name, fn) {
    var t = performance.now();
    fn();
    timings[name] = (timings[name] || 0) + performance.now() - t;
  }

  // ---- one era ---------------------------------------------------------------------------------
  function renderEra(em, host) {
    var sec = el("section", { "class": "era", "data-era": em.era });
    host.appendChild(sec);
    var title = em.era === "2.6.10" ? "Linux 2.6.10 (the book)" : em.era === "modern" ? "Today's kernel" : em.era;
    var counts = {};
    em.faults.forEach(function (f) { counts[f.kind] = (counts[f.kind] || 0) + 1; });
    var nptes = 0, nvmas = 0;
    em.processes.forEach(function (p) { nvmas += p.vmas.length; p.vmas.forEach(function (v) { nptes += v.ptes.length; }); });
    sec.appendChild(el("h2", null, esc(title)));
    sec.appendChild(el("div", { "class": "mute" }, esc(size(em.ramBytes)) + " RAM · " + em.processes.length + " processes · " +
      nvmas + " VMAs · " + nptes + " PTEs · " + em.frames.length + " frames touched · " + em.faults.length + " faults" +
      (em.zeroPfn >= 0 ? " · zero page pfn " + hex(em.zeroPfn) : " · no zero page")));

    // pfn -> its records (one per allocation); frames.of(pfn, pid) is the one that pid mapped
    var byPfn = new Map();
    em.frames.forEach(function (f) { var l = byPfn.get(f.pfn); if (l) l.push(f); else byPfn.set(f.pfn, [f]); });
    var frames = {
      of: function (pfn, pid) {
        var l = byPfn.get(pfn);
        if (!l) return null;
        for (var i = 0; i < l.length; i++) if (l[i].mappers.indexOf(pid) >= 0) return l[i];
        return l[l.length - 1];
      }
    };
    var regionOf = makeRegionOf(em.iomem);
    timed("map", function () { physMap(sec, em, regionOf); });
    timed("processes", function () { processTable(sec, em, counts); });
    timed("mapping", function () { mapping(sec, em, frames, regionOf); });
    timed("vmas", function () { vmaList(sec, em); });
    timed("timeline", function () { timeline(sec, em, counts); });
  }

  /** The deepest /proc/iomem resource holding a physical address. */
  function makeRegionOf(iomem) {
    return function (addr) {
      var best = null;
      for (var i = 0; i < iomem.length; i++) {
        var r = iomem[i];
        if (addr >= r.start && addr <= r.end && (!best || r.depth >= best.depth)) best = r;
      }
      return best;
    };
  }

  // ---- the physical address map (canvas, to scale, zoomable) -----------------------------------
  // One strip per zone, each linear (to scale) over its own range: the low 1 MiB with the ISA hole,
  // each RAM range, each PCI window (the part its BARs use). A wheel zooms the strip under the
  // pointer, a click zooms to a resource, a double click resets the strip.
  function physMap(sec, em, regionOf) {
    sec.appendChild(el("h3", null, "Physical address map (/proc/iomem, each strip to scale)"));
    var canvas = el("canvas", { "class": "physmap" });
    var wrap = el("div");
    wrap.appendChild(canvas);
    sec.appendChild(wrap);
    var HOLE = [0xa0000, 0x100000], MIB = 0x100000;
    var tops = em.iomem.filter(function (r) { return r.depth === 0; });
    var strips = [];
    if (tops.some(function (r) { return r.start < MIB; })) strips.push({ name: "low 1 MiB (ISA hole " + hex(HOLE[0]) + "-" + hex(HOLE[1] - 1) + ")", a: 0, b: MIB });
    tops.forEach(function (r, i) {
      if (r.start < MIB) return;
      var b = r.end + 1;
      if (r.kind === "window") {
        var last = r.start;
        for (var j = em.iomem.indexOf(r) + 1; j < em.iomem.length && em.iomem[j].depth > 0; j++) last = Math.max(last, em.iomem[j].end + 1);
        if (last > r.start) b = Math.min(b, r.start + Math.max(Math.ceil(((last - r.start) * 1.5) / MIB) * MIB, 2 * MIB));
      }
      strips.push({ name: r.name + (b < r.end + 1 ? " (the first " + size(b - r.start) + " of " + size(r.end + 1 - r.start) + ")" : ""), a: r.start, b: b });
    });
    strips.forEach(function (s) {
      s.view = [s.a, s.b];
      s.items = em.iomem.filter(function (r) { return r.end >= s.a && r.start < s.b; });
      var d0 = 99, d1 = 0;
      s.items.forEach(function (r) { d0 = Math.min(d0, r.depth); d1 = Math.max(d1, r.depth); });
      s.d0 = s.items.length ? d0 : 0;
      s.rows = s.items.length ? d1 - d0 + 1 : 1;
      s.h = 16 + s.rows * 19 + 14 + 10;
    });
    var H = strips.reduce(function (n, s) { s.y = n; return n + s.h; }, 0) + 4;
    var hits = [];
    function draw() {
      var c = setupCanvas(canvas, H), g = c.g, w = c.w;
      g.clearRect(0, 0, w, H);
      hits = [];
      strips.forEach(function (s) {
        var v0 = s.view[0], span = s.view[1] - s.view[0], y0 = s.y;
        var X = function (a) { return ((a - v0) / span) * w; };
        g.font = "bold 11px system-ui"; g.fillStyle = "#333"; g.textAlign = "left";
        g.fillText(s.name, 0, y0 + 11);
        g.font = "10px system-ui"; g.fillStyle = "#777"; g.textAlign = "right";
        g.fillText(hex(Math.floor(v0)) + " - " + hex(Math.ceil(s.view[1]) - 1) + (v0 !== s.a || s.view[1] !== s.b ? " (zoomed; double-click resets)" : ""), w, y0 + 11);
        g.textAlign = "left";
        var ry = y0 + 15;
        if (HOLE[1] > v0 && HOLE[0] < s.view[1]) {
          var hx0 = X(HOLE[0]), hx1 = X(HOLE[1]);
          g.fillStyle = "rgba(255,152,0,.13)"; g.fillRect(hx0, ry, hx1 - hx0, s.rows * 19);
          g.strokeStyle = "rgba(230,120,0,.8)"; g.setLineDash([3, 3]); g.strokeRect(hx0 + 0.5, ry + 0.5, hx1 - hx0 - 1, s.rows * 19 - 1); g.setLineDash([]);
        }
        s.items.forEach(function (r) {
          var x0 = X(r.start), x1 = X(r.end + 1);
          if (x1 < 0 || x0 > w) return;
          var y = ry + (r.depth - s.d0) * 19, ww = Math.max(2, x1 - x0);
          g.fillStyle = color(RES_COLORS[r.kind]);
          g.fillRect(x0, y, ww, 16);
          g.strokeStyle = "rgba(0,0,0,.35)"; g.strokeRect(x0 + 0.5, y + 0.5, ww - 1, 15);
          hits.push({ x0: x0 - 1, x1: x0 + ww + 1, y0: y, y1: y + 16, r: r, s: s });
          var label = r.name + "  " + size(r.end + 1 - r.start);
          g.font = "11px system-ui";
          var cx0 = Math.max(x0, 0) + 3, room = Math.min(x1, w) - cx0 - 3;
          if (room > 24) {
            g.fillStyle = r.kind === "bar" || r.kind === "claim" || r.kind === "isa" ? "#fff" : "#222";
            var t = label; while (t.length > 3 && g.measureText(t).width > room) t = t.slice(0, -2);
            if (t.length > 3) g.fillText(t === label ? t : t + "…", cx0, y + 12);
          }
        });
        var fy = ry + s.rows * 19 + 2;
        g.fillStyle = "#f1f1f4"; g.fillRect(0, fy, w, 10);
        // frames are sorted by pfn: start at the first one in view
        var lo = 0, hi = em.frames.length, first = Math.floor(v0 / PAGE);
        while (lo < hi) { var mid = (lo + hi) >> 1; if (em.frames[mid].pfn < first) lo = mid + 1; else hi = mid; }
        for (var i = lo; i < em.frames.length; i++) {
          var f = em.frames[i], a = f.pfn * PAGE;
          if (a >= s.view[1]) break;
          var x = X(a);
          g.fillStyle = frameColor(f);
          g.fillRect(x, fy, Math.max(2, X(a + PAGE) - x), 10);
        }
      });
    }
    function at(ev) {
      var b = canvas.getBoundingClientRect(), x = ev.clientX - b.left, y = ev.clientY - b.top;
      for (var i = hits.length - 1; i >= 0; i--) { var k = hits[i]; if (x >= k.x0 && x <= k.x1 && y >= k.y0 && y <= k.y1) return k; }
      return null;
    }
    function stripAt(ev) {
      var b = canvas.getBoundingClientRect(), y = ev.clientY - b.top;
      for (var i = 0; i < strips.length; i++) if (y >= strips[i].y && y < strips[i].y + strips[i].h) return strips[i];
      return null;
    }
    function zoomTo(s, a, b) {
      var pad = Math.max((b - a) * 0.15, PAGE);
      s.view = [Math.max(s.a, a - pad), Math.min(s.b, b + pad)];
      draw();
    }
    canvas.addEventListener("mousemove", function (ev) {
      var h = at(ev);
      if (!h) return hideTip();
      showTip("<b>" + esc(h.r.name) + "</b> (" + KIND_NAMES[h.r.kind] + ")<br>" + hex(h.r.start) + "-" + hex(h.r.end) + " · " + size(h.r.end + 1 - h.r.start), ev);
    });
    canvas.addEventListener("mouseleave", hideTip);
    canvas.addEventListener("click", function (ev) { var h = at(ev); if (h) zoomTo(h.s, h.r.start, h.r.end + 1); });
    canvas.addEventListener("dblclick", function (ev) { var s = stripAt(ev); if (s) { s.view = [s.a, s.b]; draw(); } });
    canvas.addEventListener("wheel", function (ev) {
      var s = stripAt(ev);
      if (!s) return;
      ev.preventDefault();
      var b = canvas.getBoundingClientRect(), f = (ev.clientX - b.left) / b.width;
      var span = s.view[1] - s.view[0], ns = Math.min(s.b - s.a, Math.max(16 * PAGE, span * (ev.deltaY > 0 ? 1.4 : 1 / 1.4)));
      var a = Math.max(s.a, s.view[0] + f * span - f * ns);
      s.view = [a, Math.min(s.b, a + ns)];
      draw();
    }, { passive: false });
    // the tree as /proc/iomem prints it; a row zooms its strip to the resource
    var list = el("div", { "class": "iomem" });
    sec.appendChild(list);
    em.iomem.forEach(function (r) {
      var row = el("div", { "class": "res", "data-kind": r.kind, "data-start": hex(r.start) },
        "&nbsp;".repeat(r.depth * 2) + '<span class="chip" style="background:' + color(RES_COLORS[r.kind]) + '"></span>' +
        esc(hex(r.start).slice(2).padStart(8, "0") + "-" + hex(r.end).slice(2).padStart(8, "0") + " : " + r.name) +
        ' <span class="mute">' + KIND_NAMES[r.kind] + " · " + size(r.end + 1 - r.start) + "</span>");
      row.onclick = function () {
        var s = strips.filter(function (x) { return r.start >= x.a && r.start < x.b; })[0];
        if (s) zoomTo(s, r.start, Math.min(r.end + 1, s.b));
      };
      list.appendChild(row);
    });
    draw();
    addEventListener("resize", draw);
  }

  function frameColor(f) {
    if (f.zero) return "#9e9e9e";
    if (f.cowOf >= 0) return color("--cow");
    if (!f.hasPage) return color("--bar");
    if (f.mappers.length > 1 || f.mapcount > 1) return "#f57c00";
    if (f.flags & 32) return color("--ram");
    return color("--isa");
  }
  function frameWhat(f, regionOf) {
    var r = regionOf(f.pfn * PAGE), w = [];
    if (f.zero) w.push("the zero page");
    if (f.cowOf >= 0) w.push("COW copy of pfn " + hex(f.cowOf));
    if (!f.hasPage) w.push("no struct page (I/O memory)");
    if (f.mappers.length > 1) w.push("shared by pids " + f.mappers.join(", "));
    if (f.hasPage && f.flags & 32) w.push("anonymous");
    return (r ? r.name + (r.kind === "bar" ? " (BAR)" : "") : "unclaimed") + (w.length ? " · " + w.join(" · ") : "");
  }
  function frameTip(f, regionOf) {
    return "<b>pfn " + hex(f.pfn) + "</b> phys " + hex(f.pfn * PAGE) + "<br>" + esc(frameWhat(f, regionOf)) + "<br>" +
      (f.hasPage ? "refcount " + f.refcount + " · mapcount " + f.mapcount + " · flags " + hex(f.flags) : "refcount — · mapcount — (no struct page)") +
      "<br>mapped by pid " + f.mappers.join(", ");
  }

  // ---- processes --------------------------------------------------------------------------------
  function processTable(sec, em, counts) {
    var exited = em.processes.some(function (p) { return p.exit !== "running"; });
    sec.appendChild(el("h3", null, exited ? "Processes (each as it was just before it exited)" : "Processes (running)"));
    var kinds = Object.keys(KIND_COLORS);
    var t = "<table><tr><th>pid</th><th>program</th><th>end</th><th>VMAs</th><th>PTEs</th><th>page tables</th><th>faults</th></tr>";
    var per = {};
    em.faults.forEach(function (f) { (per[f.pid] = per[f.pid] || {})[f.kind] = (per[f.pid][f.kind] || 0) + 1; });
    var shown = em.processes.slice(0, 200);
    shown.forEach(function (p) {
      var n = 0; p.vmas.forEach(function (v) { n += v.ptes.length; });
      var fk = per[p.pid] || {};
      t += "<tr><td>" + p.pid + '</td><td><span class="chip" style="background:' + pidHue(p.pid) + '"></span>' + esc(p.name) + "</td><td>" + esc(p.exit) +
        "</td><td>" + p.vmas.length + "</td><td>" + n + "</td><td>" + p.tablePages + "</td><td>" +
        kinds.filter(function (k) { return fk[k]; }).map(function (k) { return '<span class="chip" style="background:' + color(KIND_COLORS[k]) + '"></span>' + k + " " + fk[k]; }).join(" ") + "</td></tr>";
    });
    t += "</table>";
    if (em.processes.length > shown.length) t += '<div class="mute">… and ' + (em.processes.length - shown.length) + " more</div>";
    sec.appendChild(el("div", null, t));
  }

  // ---- pages to frames (SVG) --------------------------------------------------------------------
  function mapping(sec, em, frames, regionOf) {
    sec.appendChild(el("h3", null, "Pages to frames"));
    var left = [], total = 0;
    em.processes.forEach(function (p) {
      var head = false;
      p.vmas.forEach(function (v) {
        v.ptes.forEach(function (pte) {
          total++;
          if (left.length >= LINE_CAP) return;
          if (!head) { left.push({ head: p }); head = true; }
          left.push({ p: p, v: v, pte: pte, addr: v.start + pte.index * PAGE });
        });
      });
    });
    // the frame records the shown PTEs map (and the originals of COW copies among them)
    var used = new Map();
    left.forEach(function (e) {
      if (!e.pte) return;
      var f = frames.of(e.pte.pfn, e.p.pid) || { pfn: e.pte.pfn, hasPage: false, refcount: 0, mapcount: 0, flags: 0, zero: false, cowOf: -1, mappers: [e.p.pid] };
      e.frame = f;
      used.set(f, true);
    });
    used.forEach(function (_, f) {
      if (f.cowOf < 0) return;
      var o = frames.of(f.cowOf, f.mappers[0]);
      if (o) { f.original = o; used.set(o, true); }
    });
    var right = [];
    used.forEach(function (_, f) { right.push(f); });
    right.sort(function (a, b) { return a.pfn - b.pfn; });
    // frames grouped by the resource they lie in (RAM, the ISA device, the BAR …): a gap between groups
    var rowOf = new Map(), y = 0, lastRegion = null, rightRows = [];
    right.forEach(function (f) {
      var r = regionOf(f.pfn * PAGE);
      if (r !== lastRegion) { rightRows.push({ label: r ? r.name + (r.kind === "bar" ? " (PCI BAR)" : "") : "unclaimed", y: y, kind: r ? r.kind : "" }); y += ROW; lastRegion = r; }
      rowOf.set(f, y); rightRows.push({ f: f, y: y }); y += ROW;
    });
    var W = 760, LX = 8, LW = 300, RX = 470, RW = 250;
    var H = Math.max(left.length * ROW, y) + 8;
    var box = el("div", { "class": "mapping" });
    sec.appendChild(box);
    if (!left.length) { box.appendChild(el("div", { "class": "mute", style: "padding:6px" }, "No process had anything mapped when it exited.")); return; }
    var svg = sv("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    box.appendChild(svg);
    var lines = sv("g", { "class": "lines" }), gl = sv("g", {}), gr = sv("g", {});
    svg.appendChild(lines); svg.appendChild(gl); svg.appendChild(gr);
    left.forEach(function (e, i) {
      var yy = i * ROW;
      if (e.head) {
        var t = sv("text", { x: LX, y: yy + 13, fill: pidHue(e.head.pid), "font-weight": "bold" });
        t.textContent = "pid " + e.head.pid + " " + e.head.name;
        gl.appendChild(t);
        return;
      }
      var g = sv("g", { "class": "pte", "data-pid": e.p.pid, "data-pfn": e.pte.pfn });
      var r = sv("rect", { x: LX + 10, y: yy + 3, width: LW - 10, height: ROW - 5, rx: 2, fill: "#f7f7f9", stroke: pidHue(e.p.pid) });
      var t2 = sv("text", { x: LX + 14, y: yy + 13 });
      t2.textContent = hex(e.addr) + " " + (e.v.perms) + " " + (e.v.name || "[anon]") + (e.pte.writable ? "" : " (ro)");
      g.appendChild(r); g.appendChild(t2); gl.appendChild(g);
      var fy = rowOf.get(e.frame);
      if (fy !== undefined) {
        var x1 = LX + LW, y1 = yy + ROW / 2, y2 = fy + ROW / 2, mid = (x1 + RX) / 2;
        lines.appendChild(sv("path", { d: "M" + x1 + " " + y1 + " C" + mid + " " + y1 + " " + mid + " " + y2 + " " + RX + " " + y2,
          fill: "none", stroke: pidHue(e.p.pid), "stroke-width": 1.2, opacity: 0.75 }));
      }
      g.addEventListener("mouseenter", function (ev) {
        var f = e.frame;
        showTip("<b>pid " + e.p.pid + "</b> " + hex(e.addr) + " " + esc(e.v.perms) + " " + esc(e.v.name || "[anon]") + "<br>→ " + (f ? frameTip(f, regionOf) : "pfn " + hex(e.pte.pfn)), ev);
      });
      g.addEventListener("mouseleave", hideTip);
    });
    rightRows.forEach(function (row) {
      if (!row.f) {
        var t = sv("text", { x: RX, y: row.y + 13, fill: color(RES_COLORS[row.kind] || "--mute"), "font-weight": "bold" });
        t.textContent = row.label;
        gr.appendChild(t);
        return;
      }
      var f = row.f;
      var attrs = { "class": "frame", "data-pfn": f.pfn, "data-shared": f.mappers.length > 1 ? "1" : "0",
        "data-zero": f.zero ? "1" : "0", "data-cow-of": f.cowOf, "data-region": (regionOf(f.pfn * PAGE) || { kind: "" }).kind };
      var g = sv("g", attrs);
      g.appendChild(sv("rect", { x: RX, y: row.y + 2, width: RW, height: ROW - 4, rx: 2, fill: frameColor(f) }));
      var t3 = sv("text", { x: RX + 5, y: row.y + 13, fill: "#fff" });
      t3.textContent = "pfn " + hex(f.pfn) + (f.zero ? " ZERO PAGE" : f.cowOf >= 0 ? " COW copy" : f.mappers.length > 1 ? " shared" : "") + (f.hasPage ? " rc " + f.refcount + " mc " + f.mapcount : "");
      g.appendChild(t3);
      g.addEventListener("mouseenter", function (ev) { showTip(frameTip(f, regionOf), ev); });
      g.addEventListener("mouseleave", hideTip);
      gr.appendChild(g);
      // the COW copy and its original, joined on the right
      if (f.original && rowOf.has(f.original)) {
        var ya = row.y + ROW / 2, yb = rowOf.get(f.original) + ROW / 2, xr = RX + RW;
        var arc = sv("path", { "class": "cow-link", "data-from": f.cowOf, "data-to": f.pfn,
          d: "M" + xr + " " + ya + " C" + (xr + 40) + " " + ya + " " + (xr + 40) + " " + yb + " " + xr + " " + yb,
          fill: "none", stroke: color("--cow"), "stroke-width": 2, "stroke-dasharray": "4 3" });
        gr.appendChild(arc);
        var lbl = sv("text", { x: xr + 4, y: (ya + yb) / 2 + 4, fill: color("--cow") });
        lbl.textContent = "COW";
        gr.appendChild(lbl);
      }
    });
    if (total > LINE_CAP) sec.appendChild(el("div", { "class": "mute" }, "showing the first " + LINE_CAP + " of " + total + " PTEs"));
  }

  // ---- VMAs (virtualised list) ------------------------------------------------------------------
  function vmaList(sec, em) {
    sec.appendChild(el("h3", null, "VMAs"));
    var rows = [];
    em.processes.forEach(function (p) { p.vmas.forEach(function (v) { rows.push({ p: p, v: v }); }); });
    var RH = 20, height = Math.min(360, (rows.length + 1) * RH + 2);
    var box = el("div", { "class": "vlist", style: "height:" + height + "px" });
    var inner = el("div", { style: "position:relative;height:" + ((rows.length + 1) * RH) + "px" });
    box.appendChild(inner);
    sec.appendChild(box);
    var cols = [["pid", 44], ["start-end", 250], ["perms", 44], ["backing", 56], ["pages", 90], ["name", 120], ["VmFlags", 260]];
    var head = el("div", { "class": "vrow head", style: "top:0" }, cols.map(function (c) { return '<span style="width:' + c[1] + 'px">' + c[0] + "</span>"; }).join(""));
    inner.appendChild(head);
    var pool = [];
    function paint(top) {
      var first = Math.max(0, Math.floor(top / RH) - 5);
      var last = Math.min(rows.length, first + Math.ceil(height / RH) + 10);
      var n = 0;
      for (var i = first; i < last; i++, n++) {
        var r = rows[i], v = r.v, pages = (v.end - v.start) / PAGE, pct = Math.round((v.ptes.length / pages) * 100);
        var d = pool[n];
        if (!d) { d = el("div", { "class": "vrow vma" }); inner.appendChild(d); pool.push(d); }
        d.style.top = (i + 1) * RH + "px";
        d.style.display = "";
        d.setAttribute("data-pid", r.p.pid);
        d.innerHTML = '<span style="width:44px;color:' + pidHue(r.p.pid) + '">' + r.p.pid + "</span>" +
          '<span style="width:250px">' + hex(v.start) + "-" + hex(v.end) + "</span>" +
          '<span style="width:44px">' + v.perms + "</span>" +
          '<span style="width:56px">' + v.backing + "</span>" +
          '<span style="width:90px" title="PTEs present / pages"><span class="occ"><i style="width:' + pct + '%"></i></span> ' + v.ptes.length + "/" + pages + "</span>" +
          '<span style="width:120px">' + esc(v.name || "") + "</span>" +
          '<span style="width:260px" class="mute">' + esc(v.vmFlags) + "</span>";
      }
      for (; n < pool.length; n++) pool[n].style.display = "none";
    }
    var pending = false;
    box.addEventListener("scroll", function () { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; paint(box.scrollTop); }); } });
    // scrollTop is 0 before the first layout: reading it would force one now
    paint(0);
  }

  // ---- fault timeline (canvas) ------------------------------------------------------------------
  function timeline(sec, em, counts) {
    sec.appendChild(el("h3", null, "Faults over time (kernel entries)"));
    var legend = el("div", { "class": "legend" });
    Object.keys(KIND_COLORS).forEach(function (k) {
      legend.appendChild(el("span", { "class": "fault-kind", "data-kind": k }, '<span class="chip" style="background:' + color(KIND_COLORS[k]) + '"></span>' + k + " " + (counts[k] || 0)));
    });
    sec.appendChild(legend);
    var procs = em.processes.slice(0, 300), LABEL = 150, RH = 16;
    var byPid = new Map();
    procs.forEach(function (p, i) { byPid.set(p.pid, { i: i, faults: [] }); });
    em.faults.forEach(function (f) { var r = byPid.get(f.pid); if (r) r.faults.push(f); });
    var canvas = el("canvas", { "class": "timeline" });
    var wrap = el("div"); wrap.appendChild(canvas); sec.appendChild(wrap);
    var H = procs.length * RH + 18, ticks = Math.max(1, em.ticks), geo = null;
    function draw() {
      var c = setupCanvas(canvas, H), g = c.g, w = c.w;
      geo = { w: w };
      g.clearRect(0, 0, w, H);
      g.font = "11px system-ui";
      procs.forEach(function (p, i) {
        var y = i * RH;
        if (i % 2) { g.fillStyle = "#f7f7f9"; g.fillRect(0, y, w, RH); }
        g.fillStyle = pidHue(p.pid);
        var label = p.pid + " " + p.name;
        while (label.length > 4 && g.measureText(label).width > LABEL - 6) label = label.slice(0, -2);
        g.fillText(label, 3, y + 12);
        g.fillStyle = "#ccc"; g.fillRect(LABEL + ((p.capturedAt / ticks) * (w - LABEL - 4)), y + 2, 1, RH - 4);
      });
      // one path per kind: a fill per colour, not per fault
      Object.keys(KIND_COLORS).forEach(function (k) {
        g.beginPath();
        byPid.forEach(function (r) {
          r.faults.forEach(function (f) {
            if (f.kind === k) g.rect(LABEL + (f.tick / ticks) * (w - LABEL - 4), r.i * RH + 2, 3, RH - 4);
          });
        });
        g.fillStyle = color(KIND_COLORS[k]);
        g.fill();
      });
      g.fillStyle = "#666";
      g.fillText("0", LABEL, H - 4);
      g.textAlign = "right"; g.fillText(String(ticks), w - 2, H - 4); g.textAlign = "left";
    }
    canvas.addEventListener("mousemove", function (ev) {
      var b = canvas.getBoundingClientRect(), x = ev.clientX - b.left, y = ev.clientY - b.top;
      var p = procs[Math.floor(y / RH)];
      if (!p || !geo || x < LABEL) return hideTip();
      var best = null, bd = 6;
      byPid.get(p.pid).faults.forEach(function (f) {
        var fx = LABEL + (f.tick / ticks) * (geo.w - LABEL - 4) + 1.5, d = Math.abs(fx - x);
        if (d < bd) { bd = d; best = f; }
      });
      if (!best) return hideTip();
      showTip("<b>" + best.kind + "</b> fault, pid " + best.pid + " at " + hex(best.addr) + (best.write ? " (write)" : " (read)") +
        "<br>kernel entry " + best.tick + (best.pfn >= 0 ? " → pfn " + hex(best.pfn) : "") + (best.fromPfn >= 0 ? " (copied from pfn " + hex(best.fromPfn) + ")" : ""), ev);
    });
    canvas.addEventListener("mouseleave", hideTip);
    draw();
    addEventListener("resize", draw);
  }

  // ---- the page ---------------------------------------------------------------------------------
  var host = document.getElementById("eras");
  host.style.setProperty("--n", String(model.eras.length));
  model.eras.forEach(function (em) { renderEra(em, host); });
  document.body.setAttribute("data-build-ms", (performance.now() - t0).toFixed(1));
  requestAnimationFrame(function () {
    var ms = performance.now() - t0;
    document.body.setAttribute("data-render-ms", ms.toFixed(1));
    // performance.now() counts from navigation: the HTML and the data parsed, the script run, laid out
    document.body.setAttribute("data-ready-ms", performance.now().toFixed(1));
    document.body.setAttribute("data-ready", "1");
    document.getElementById("render-ms").textContent = ms.toFixed(0) + " ms";
  });
})();
`;
