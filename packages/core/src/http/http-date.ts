// HTTP-date parsing (RFC 9110 §5.6.7), as a cache reads `Date`, `Expires`
// and `Last-Modified`.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
const DAY_NAME = '(?:mon|tue|wed|thu|fri|sat|sun)'
const DAY_NAME_L = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)'
// RFC 9110 §5.6.7, matched case-insensitively as RFC 9111 §4.2 asks of caches.
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i')
const RFC850_DATE = new RegExp(`^${DAY_NAME_L}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i')
const ASCTIME_DATE = new RegExp(`^${DAY_NAME} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i')

/** An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime) as ms epoch, or undefined. */
export function parseHttpDate(value: string, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '')
  let m = IMF_FIXDATE.exec(text)
  if (m) return utc(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!)
  m = ASCTIME_DATE.exec(text)
  if (m) return utc(Number(m[6]), m[1]!, m[2]!, m[3]!, m[4]!, m[5]!)
  m = RFC850_DATE.exec(text)
  if (!m) return undefined
  // §5.6.7: a two-digit year that would be more than 50 years ahead is the
  // latest year in the past with those digits (a window sliding with `now`).
  const limit = new Date(Number.isFinite(now) ? now : Date.now())
  const century = limit.getUTCFullYear() - (limit.getUTCFullYear() % 100)
  limit.setUTCFullYear(limit.getUTCFullYear() + 50)
  for (const year of [century + 100, century, century - 100]) {
    const parsed = utc(year + Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!)
    if (parsed !== undefined && parsed <= limit.getTime()) return parsed
  }
  return undefined
}

function utc(
  year: number,
  monthName: string,
  day: string,
  hour: string,
  minute: string,
  second: string,
): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase())
  const [d, h, min, s] = [Number(day), Number(hour), Number(minute), Number(second)]
  if (d < 1 || h > 23 || min > 59 || s > 60) return undefined
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999. A leap
  // second (60) is read as 59: §4.2 of RFC 9111 rounds a date down, never up.
  const date = new Date(0)
  date.setUTCFullYear(year, month, d)
  date.setUTCHours(h, min, Math.min(s, 59), 0)
  // An overflowing day (31 Feb) would roll into the next month.
  if (date.getUTCMonth() !== month || date.getUTCDate() !== d) return undefined
  return date.getTime()
}
