// The dashboard page's stylesheet (served inline, allowed by its CSP hash).

export const DASHBOARD_STYLE = `
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
