// The dashboard page's markup: empty tables and fields the script fills in.

export const DASHBOARD_BODY = `
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
