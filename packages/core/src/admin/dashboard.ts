import { createHash } from 'node:crypto'

// The dashboard: one static page, no build step, no CDN, no external font.
// It holds no data when served; its script asks for the admin token (kept in
// sessionStorage), polls `stats` every 2 s with it as a bearer header, and
// computes the hit-ratio chart from the differences between polls.
// The script avoids template literals so that it can live in this one.

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2430; --muted: #5b6576; --line: #d5dae1;
  --bg: #fbfcfd; --card: #fff; --ok: #137333; --bad: #b3261e; --accent: #1a56db;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e8ee; --muted: #9aa4b2; --line: #343b46;
  --bg: #14171c; --card: #1b1f26; --ok: #5bd18b; --bad: #ff8a80; --accent: #8ab4f8; } }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center;
  padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
main { display: grid; gap: 1rem; padding: 1rem 1.25rem; grid-template-columns: 1fr 1fr; }
@media (max-width: 56rem) { main { grid-template-columns: 1fr; } }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
section.wide { grid-column: 1 / -1; }
form { display: flex; flex-wrap: wrap; gap: .4rem .6rem; align-items: center; }
#invalidate { display: grid; grid-template-columns: max-content minmax(0, 20rem); }
#invalidate button { grid-column: 2; justify-self: start; }
input { font: inherit; padding: .25rem .4rem; border: 1px solid var(--line); border-radius: 4px;
  background: var(--bg); color: var(--fg); }
button { font: inherit; padding: .25rem .75rem; border-radius: 4px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--card); cursor: pointer; }
button.plain { background: none; color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: .2rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, th.text, td.text { text-align: left; white-space: normal; }
thead th { color: var(--muted); font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; font-variant-numeric: tabular-nums; }
meter { width: 10rem; vertical-align: middle; }
.muted, figcaption { color: var(--muted); }
.ok { color: var(--ok); } .bad { color: var(--bad); }
#status.bad { font-weight: 600; }
figure { margin: 0 0 .75rem; }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--muted); font-size: 12px; }
svg .grid { stroke: var(--line); }
svg path { fill: none; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
#legend { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1rem; padding: 0; margin: .3rem 0 0; }
#legend span { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
`

const SCRIPT = `
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
  function served(r) { return r.hits.memory + r.hits.shared + r.stale.revalidate + r.stale.error; }

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
        ["stale", r.stale.revalidate + r.stale.error, "while revalidating " + r.stale.revalidate + ", on error " + r.stale.error],
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

const BODY = `
<header>
  <h1>cachet</h1>
  <form id="login" aria-label="Connect">
    <label for="token">Admin token</label>
    <input id="token" type="password" autocomplete="off" spellcheck="false" required>
    <button type="submit">Connect</button>
    <button type="button" id="forget" class="plain">Forget token</button>
  </form>
  <p id="status" role="status" aria-live="polite">Enter the admin token to connect.</p>
</header>
<main>
  <section class="wide" aria-labelledby="rules-title">
    <h2 id="rules-title">Rules</h2>
    <figure>
      <svg id="chart" viewBox="0 0 1000 180" role="img" aria-labelledby="chart-caption"></svg>
      <figcaption id="chart-caption">Hit ratio per rule between polls (every 2 s), over up to the last 5 minutes</figcaption>
      <ul id="legend" aria-label="Chart legend"></ul>
    </figure>
    <table aria-labelledby="rules-title">
      <thead><tr><th scope="col">Rule</th><th scope="col">Hits</th><th scope="col">Misses</th>
        <th scope="col">Stale</th><th scope="col">Bypasses</th><th scope="col">Stores</th>
        <th scope="col">Hit ratio</th><th scope="col">Origin time saved</th></tr></thead>
      <tbody id="rules"></tbody>
    </table>
  </section>
  <section aria-labelledby="tiers-title">
    <h2 id="tiers-title">Tiers</h2>
    <dl>
      <dt>Memory entries</dt><dd id="l1-entries">-</dd>
      <dt>Memory bytes</dt><dd><span id="l1-bytes">-</span> <meter id="l1-meter" aria-label="Memory used" hidden></meter></dd>
      <dt>Memory evictions</dt><dd id="l1-evictions">-</dd>
      <dt>Shared tier</dt><dd id="l2-name">-</dd>
      <dt>Breaker</dt><dd id="l2-breaker">-</dd>
      <dt>Bus</dt><dd id="l2-bus">-</dd>
      <dt>Shared tier errors</dt><dd id="l2-errors">-</dd>
      <dt>Invalidations</dt><dd id="inv-counts">-</dd>
    </dl>
  </section>
  <section aria-labelledby="invalidate-title">
    <h2 id="invalidate-title">Invalidate</h2>
    <form id="invalidate" aria-labelledby="invalidate-title">
      <label for="tags">Tags</label><input id="tags" placeholder="product:1, products">
      <label for="pattern">Pattern</label><input id="pattern" placeholder="/products/:id">
      <label for="user">User</label><input id="user" placeholder="user id">
      <button type="submit">Invalidate</button>
    </form>
    <p><output id="result" for="tags pattern user" aria-label="Invalidation result"></output></p>
  </section>
  <section class="wide" aria-labelledby="recent-title">
    <h2 id="recent-title">Recent invalidations</h2>
    <table aria-labelledby="recent-title">
      <thead><tr><th scope="col">Time</th><th scope="col" class="text">By</th><th scope="col" class="text">Tags</th>
        <th scope="col" class="text">Patterns</th><th scope="col" class="text">Users</th><th scope="col" class="text">Result</th><th scope="col">ms</th></tr></thead>
      <tbody id="recent"></tbody>
    </table>
  </section>
</main>
`

/** The page `GET /` of the admin API serves. Static: it carries no data. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cachet dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * Only this page's own script and style run, it talks only to its own
 * origin, and it cannot be framed.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')
