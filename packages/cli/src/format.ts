/** `850 ms`, `2.4 s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?'
  const neg = ms < 0 ? '-' : ''
  const a = Math.abs(ms)
  if (a < 1000) return `${neg}${Math.round(a)} ms`
  if (a < 60_000) return `${neg}${(a / 1000).toFixed(1)} s`
  const s = Math.floor(a / 1000)
  if (s < 3600) return `${neg}${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86_400) return `${neg}${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${neg}${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
}

/** `512 B`, `1.5 KiB`, `64.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`
}

/** Left-aligned columns, two spaces apart. */
export function table(rows: readonly (readonly string[])[], indent = ''): string {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join('  '),
    )
    .join('\n')
}

/** `a, b and c`. */
export function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}
