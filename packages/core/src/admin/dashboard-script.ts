// The dashboard page's script (served inline, allowed by its CSP hash): it
// asks for the admin token (kept in sessionStorage), polls `stats` every 2 s
// with it as a bearer header, renders the tables and computes the hit-ratio
// chart from the differences between polls. It avoids template literals so
// that it can live in this one.

export const DASHBOARD_SCRIPT = `
"use strict";
(function () {
  var POLL_MS = 2000, WINDOW = 150, KEY = "cachet.admin.token";
  var COLORS = ["#1a73e8", "#e8710a", "#188038", "#d93025", "#9334e6", "#12b5cb", "#e52592", "#7cb342", "#f9ab00", "#5f6368"];
  var base = location.pathname.replace(/\\/?$/, "/");
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem(KEY) || "";
  // gen: each poll() starts a new chain; answers to an older one are dropped.
  var timer = 0, gen = 0, previous = null, history = [], ruleOrder = [];

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function setStatus(text, bad) { var s = $("status"); s.textContent = text; s.className = bad ? "bad" : ""; }
  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }
  function pct(r) { return (r * 100).toFixed(1) + "%"; }
  function sum(o) { var t = 0; for (var k in o) t += o[k]; return t; }
  function served(r) { return r.hits.memory + r.hits.shared + r.stale.revalidate + r.stale.error + r.stale.timeout; }

  function api(path, init) {
    init = init || {};
    init.cache = "no-store";
    init.headers = Object.assign({ Authorization: "Bearer " + token }, init.headers || {});
    return fetch(base + path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; });
    });
  }

  function poll() {
    clearTimeout(timer);
    var g = ++gen;
    if (!token) return;
    api("stats").then(function (r) {
      if (g !== gen) return;
      if (r.status === 401) { setStatus("The token was refused: enter a valid admin token.", true); return; }
      if (r.status !== 200) { setStatus("stats answered " + r.status + "; retrying", true); }
      else { render(r.body); setStatus("Connected to pid " + r.body.pid + ", updated " + new Date(r.body.at).toLocaleTimeString()); }
      timer = setTimeout(poll, POLL_MS);
    }, function () {
      if (g !== gen) return;
      setStatus("Cannot reach the server; retrying", true);
      timer = setTimeout(poll, POLL_MS);
    });
  }

  function render(snapshot) {
    var s = snapshot.stats;
    record(s.rules);
    renderRules(s.rules);
    renderChart();
    renderTiers(s);
    renderRecent(snapshot.recentInvalidations);
  }

  // Hit ratio per poll interval: served and missed since the previous poll.
  function record(rules) {
    var point = {};
    rules.forEach(function (r) {
      if (ruleOrder.indexOf(r.name) < 0) ruleOrder.push(r.name);
      var p = previous && previous[r.name];
      var ds = p ? served(r) - p.served : 0, dm = p ? r.misses - p.misses : 0;
      point[r.name] = p && ds >= 0 && dm >= 0 && ds + dm > 0 ? ds / (ds + dm) : null;
    });
    previous = {};
    rules.forEach(function (r) { previous[r.name] = { served: served(r), misses: r.misses }; });
    history.push(point);
    if (history.length > WINDOW) history.shift();
  }

  function renderRules(rules) {
    var body = $("rules");
    body.replaceChildren();
    rules.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.rule = r.name;
      var name = el("th", r.name);
      name.scope = "row";
      tr.append(name);
      var cells = [
        ["hits", r.hits.memory + r.hits.shared, "memory " + r.hits.memory + ", shared " + r.hits.shared],
        ["misses", r.misses],
        ["stale", r.stale.revalidate + r.stale.error + r.stale.timeout, "while revalidating " + r.stale.revalidate + ", on error " + r.stale.error + ", origin too slow " + r.stale.timeout],
        ["bypasses", sum(r.bypasses), Object.keys(r.bypasses).map(function (k) { return k + " " + r.bypasses[k]; }).join(", ")],
        ["stores", r.stores.memory + r.stores.shared, "memory " + r.stores.memory + ", shared " + r.stores.shared],
        ["ratio", pct(r.hitRatio)],
        ["saved", r.savedSeconds.toFixed(1) + " s"]
      ];
      cells.forEach(function (c) {
        var td = el("td", c[1]);
        td.dataset.field = c[0];
        if (c[2]) td.title = c[2];
        tr.append(td);
      });
      body.append(tr);
    });
  }

  var NS = "http://www.w3.org/2000/svg", W = 1000, H = 180, L = 40, R = 8, T = 8, B = 160;
  function svg(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function renderChart() {
    var chart = $("chart"), legend = $("legend");
    chart.replaceChildren();
    legend.replaceChildren();
    [0, 0.5, 1].forEach(function (v) {
      var y = B - v * (B - T);
      chart.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, "class": "grid" }));
      chart.append(svg("text", { x: L - 4, y: y + 3, "text-anchor": "end" }, v * 100 + "%"));
    });
    // The time axis grows with the history, up to the window.
    var slots = Math.max(history.length - 1, 1), span = Math.round(slots * POLL_MS / 1000);
    chart.append(svg("text", { x: L, y: H - 2 }, "-" + (span < 120 ? span + " s" : Math.round(span / 60) + " min")));
    chart.append(svg("text", { x: W - R, y: H - 2, "text-anchor": "end" }, "now"));
    var step = (W - R - L) / slots;
    ruleOrder.forEach(function (name, i) {
      var d = "", open = false, seen = false;
      history.forEach(function (point, j) {
        var v = point[name];
        if (v === null || v === undefined) { open = false; return; }
        var x = (L + j * step).toFixed(1), y = (B - v * (B - T)).toFixed(1);
        // A lone point is drawn as a dot: a zero-length segment with a round cap.
        d += (open ? " L" : " M") + x + " " + y + (open ? "" : " l0.01 0");
        open = seen = true;
      });
      if (!seen) return;
      var color = COLORS[i % COLORS.length];
      var path = svg("path", { d: d.trim(), stroke: color });
      path.dataset.rule = name;
      chart.append(path);
      var item = el("li"), swatch = el("span");
      swatch.style.background = color;
      item.append(swatch, name);
      legend.append(item);
    });
  }

  function renderTiers(s) {
    var l1 = s.l1, l2 = s.l2;
    $("l1-entries").textContent = l1 ? String(l1.entries) : "off";
    $("l1-bytes").textContent = l1 ? bytes(l1.bytes) + " of " + bytes(l1.maxBytes) + " (" + pct(l1.bytes / l1.maxBytes) + ")" : "off";
    var meter = $("l1-meter");
    meter.hidden = !l1;
    if (l1) { meter.max = l1.maxBytes; meter.value = l1.bytes; }
    $("l1-evictions").textContent = l1 ? String(l1.evictions) : "-";
    var breaker = $("l2-breaker"), bus = $("l2-bus");
    $("l2-name").textContent = l2 ? l2.name : "none (memory only)";
    breaker.textContent = l2 ? l2.breaker : "-";
    breaker.className = l2 ? (l2.breaker === "closed" ? "ok" : "bad") : "";
    bus.textContent = l2 ? (l2.trusted ? "healthy (memory tier trusted)" : "down (memory tier not used)") : "-";
    bus.className = l2 ? (l2.trusted ? "ok" : "bad") : "";
    $("l2-errors").textContent = l2 ? sum(l2.errors) + " (" + l2.timeouts + " timeouts)" : "-";
    var inv = s.invalidations;
    $("inv-counts").textContent = inv.done + " done, " + inv.failed + " failed";
  }

  function renderRecent(list) {
    var body = $("recent");
    body.replaceChildren();
    if (list.length === 0) {
      var empty = el("td", "none yet", "text muted");
      empty.colSpan = 7;
      var row = el("tr");
      row.append(empty);
      body.append(row);
      return;
    }
    list.slice().reverse().forEach(function (r) {
      var tr = el("tr");
      tr.append(
        el("td", new Date(r.at).toLocaleTimeString(), "text"),
        el("td", r.by, "text"),
        el("td", r.tags.join(", "), "text"),
        el("td", r.patterns.join(", "), "text"),
        el("td", r.users.join(", "), "text"),
        el("td", r.ok ? "ok" : "failed", r.ok ? "text ok" : "text bad"),
        el("td", r.ms)
      );
      body.append(tr);
    });
  }

  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem(KEY, token);
    setStatus("Connecting...");
    poll();
  });
  $("forget").addEventListener("click", function () {
    clearTimeout(timer);
    gen++;
    token = "";
    sessionStorage.removeItem(KEY);
    $("token").value = "";
    setStatus("Token forgotten. Enter the admin token to connect.");
  });
  $("invalidate").addEventListener("submit", function (e) {
    e.preventDefault();
    var target = {}, tags = $("tags").value.split(/[\\s,]+/).filter(Boolean);
    if (tags.length) target.tags = tags;
    if ($("pattern").value.trim()) target.pattern = $("pattern").value.trim();
    if ($("user").value.trim()) target.user = $("user").value.trim();
    var out = $("result");
    out.className = "";
    out.textContent = "Invalidating...";
    api("invalidate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(target) }).then(function (r) {
      var b = r.body;
      if (r.status === 200) {
        var what = b.tags.concat(b.patterns, b.users.map(function (u) { return "user " + u; })).join(", ");
        out.textContent = "Invalidated " + what + " in " + b.ms + " ms";
        out.className = "ok";
      } else {
        out.textContent = (r.status === 400 ? "Refused (" + b.field + "): " : "Failed (" + r.status + "): ") + (b.error || "");
        out.className = "bad";
      }
      poll();
    }, function () { out.textContent = "Cannot reach the server"; out.className = "bad"; });
  });

  $("token").value = token;
  if (token) { setStatus("Connecting..."); poll(); }
})();
`
