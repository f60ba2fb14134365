/**
 * The Lua scripts. Each runs atomically in Redis, so a read sees the entry
 * and the versions of its tags at one instant, and a write stores only if
 * nothing the fill depends on moved since the fill started.
 *
 * Versions are `<epoch>.<n>`: the epoch is a random id created when the
 * keyspace is (re)born (first use, restart without persistence, FLUSHALL),
 * and n comes from INCR. A missing tag record counts as invalidated: a fill
 * that finds none creates it, so an entry can never be valid against a tag
 * record that vanished.
 */

/**
 * Shared by the scripts: the keyspace epoch, created if missing, with the
 * time it was born (`<epoch key>:born`, in the same hash slot).
 */
const EPOCH = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function epoch(key, candidate)
  local e = redis.call('GET', key)
  if not e then
    redis.call('SET', key, candidate)
    redis.call('SET', key .. ':born', now_ms())
    e = candidate
  end
  return e
end
`

/**
 * KEYS: entry, lock, marker, epoch, vseq, pseq, plog, tag keys...
 * ARGV: skipEntry, lockToken ('' = no lock), lockMs, tagTtlMs, epochCandidate, tag names...
 * → {'hit', envelope, patternsSince...} | {'miss', lock, marker, pseq, epoch, versions...}
 */
export const READ = `${EPOCH}
local ntags = #KEYS - 7
if ARGV[1] ~= '1' then
  local v = redis.call('GET', KEYS[1])
  if v then
    local ok, meta = pcall(function()
      if string.sub(v, 1, 4) ~= 'CCH\\1' then error('magic') end
      local len = struct.unpack('>I4', v, 5)
      return cjson.decode(string.sub(v, 9, 8 + len))
    end)
    if not ok or type(meta) ~= 'table' or type(meta.t) ~= 'table' or type(meta.v) ~= 'table' then
      redis.call('DEL', KEYS[1])
    else
      local valid = #meta.t == ntags
      if valid then
        for i = 1, ntags do
          if meta.t[i] ~= ARGV[5 + i] or redis.call('GET', KEYS[7 + i]) ~= meta.v[i] then
            valid = false
            break
          end
        end
      end
      if valid then
        local pseq = tonumber(redis.call('GET', KEYS[6]) or '0')
        local p = tonumber(meta.p) or -1
        if pseq == p then return {'hit', v} end
        if p >= 0 and p < pseq then
          local oldest = redis.call('ZRANGE', KEYS[7], 0, 0, 'WITHSCORES')
          if oldest[2] ~= nil and tonumber(oldest[2]) <= p + 1 then
            local out = {'hit', v}
            for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '(' .. p, '+inf')) do
              out[#out + 1] = string.sub(m, string.find(m, ':', 1, true) + 1)
            end
            return out
          end
        end
        -- The patterns since this entry are no longer all known: a miss.
      end
    end
  end
end
local marker = redis.call('GET', KEYS[3]) or ''
local e = epoch(KEYS[4], ARGV[5])
local out = {'miss', 'none', marker, redis.call('GET', KEYS[6]) or '0', e}
local ttl = tonumber(ARGV[4])
for i = 1, ntags do
  local cur = redis.call('GET', KEYS[7 + i])
  if not cur then
    cur = e .. '.' .. redis.call('INCR', KEYS[5])
    redis.call('SET', KEYS[7 + i], cur, 'PX', ttl)
  elseif redis.call('PTTL', KEYS[7 + i]) < ttl then
    redis.call('PEXPIRE', KEYS[7 + i], ttl)
  end
  out[5 + i] = cur
end
if marker == '' and ARGV[2] ~= '' then
  if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then out[2] = 'acquired' else out[2] = 'busy' end
end
return out
`

/**
 * KEYS: entry, lock, pseq, marker, tag keys...
 * ARGV: envelope, px, lockToken, capturedPseq, tagTtlMs, captured versions...
 * → 1 stored, 0 fenced out. Releases the lock either way.
 */
export const WRITE = `
local ok = (redis.call('GET', KEYS[3]) or '0') == ARGV[4]
if ok then
  for i = 5, #KEYS do
    if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then
      ok = false
      break
    end
  end
end
if ok then
  local px = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
  redis.call('DEL', KEYS[4])
  -- Tag records outlive every entry that carries them.
  local keep = math.max(px + 60000, tonumber(ARGV[5]))
  for i = 5, #KEYS do
    if redis.call('PTTL', KEYS[i]) < keep then redis.call('PEXPIRE', KEYS[i], keep) end
  end
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if ok then return 1 end
return 0
`

/**
 * KEYS: lock, marker. ARGV: lockToken, marker reason ('' = none), marker ms.
 */
export const ABANDON = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
return 1
`

/**
 * KEYS: epoch, vseq, pseq, plog, bseq, leases, tag keys...
 * ARGV: channel, epochCandidate, tagTtlMs, plogMax, payload, leaseMs, patterns...
 * → {busSeq, waitMs, live process ids...}. waitMs > 0 while the keyspace is
 * younger than a lease: processes that held leases before it was reborn are
 * unknown, so the caller waits until theirs have surely run out.
 */
export const INVALIDATE = `${EPOCH}
local e = epoch(KEYS[1], ARGV[2])
local now = now_ms()
local born = tonumber(redis.call('GET', KEYS[1] .. ':born') or '')
if not born then
  born = now
  redis.call('SET', KEYS[1] .. ':born', now)
end
local wait = math.max(0, born + tonumber(ARGV[6]) - now)
for i = 7, #KEYS do
  redis.call('SET', KEYS[i], e .. '.' .. redis.call('INCR', KEYS[2]), 'PX', ARGV[3])
end
for i = 7, #ARGV do
  local s = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[4], s, s .. ':' .. ARGV[i])
end
if #ARGV >= 7 then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[4]) + 1)) end
local seq = redis.call('INCR', KEYS[5])
redis.call('PUBLISH', ARGV[1], e .. '|' .. seq .. '|' .. ARGV[5])
local out = {seq, wait}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '(' .. now, '+inf')) do
  out[#out + 1] = id
end
return out
`

/**
 * KEYS: leases, applied. ARGV: busSeq, process ids...
 * → the ids whose lease is live and who have not applied busSeq yet.
 */
export const PENDING = `${EPOCH}
local now = now_ms()
local seq = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local exp = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if exp and tonumber(exp) > now and tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0') < seq then
    out[#out + 1] = ARGV[i]
  end
end
return out
`

/**
 * KEYS: leases, applied, epoch. ARGV: id, leaseMs, appliedSeq, knownEpoch.
 * → {'ok'} | {'epoch', current}: the keyspace was reborn; resync first.
 */
export const RENEW = `${EPOCH}
local e = redis.call('GET', KEYS[3])
if e ~= ARGV[4] then return {'epoch', e or ''} end
local now = now_ms()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
end
return {'ok'}
`

/**
 * KEYS: epoch, bseq, leases, applied. ARGV: epochCandidate, id, leaseMs.
 * → {epoch, busSeq}: the process starts over from here.
 */
export const RESYNC = `${EPOCH}
local e = epoch(KEYS[1], ARGV[1])
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('ZADD', KEYS[3], now_ms() + tonumber(ARGV[3]), ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], seq)
return {e, seq}
`

/** KEYS: leases, applied. ARGV: id. A clean shutdown: nobody waits for this process. */
export const LEAVE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`
