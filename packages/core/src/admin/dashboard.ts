import { createHash } from 'node:crypto'
import { DASHBOARD_BODY as BODY } from './dashboard-markup'
import { DASHBOARD_SCRIPT as SCRIPT } from './dashboard-script'
import { DASHBOARD_STYLE as STYLE } from './dashboard-style'

// The dashboard: one static page, no build step, no CDN, no external font.
// It holds no data when served; its script asks for the admin token (kept in
// sessionStorage), polls `stats` every 2 s with it as a bearer header, and
// computes the hit-ratio chart from the differences between polls. Its parts
// live beside this file: the style, the script and the markup.

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
