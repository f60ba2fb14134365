/**
 * The Lua scripts. Each runs atomically in Redis, so a read sees the entry
 * and the versions of its tags at one instant, and a write stores only if
 * nothing the fill depends on moved since the fill started.
 *
 * All coordination state lives in ONE hash, `{prefix}:state`: the keyspace
 * epoch and when it was born, the version, pattern and bus counters, and per
 * process its lease (`l:<id>`) and the last bus sequence it applied
 * (`a:<id>`). Whatever removes it (first use, a restart without persistence,
 * FLUSHALL, eviction under an `allkeys-*` policy, a failover that lost
 * writes) removes all of it at once: the next script starts a new epoch, and
 * no counter can ever go back within an epoch. The pattern log goes with it.
 *
 * Versions are `<epoch>.<n>.<nonce>`: n from HINCRBY, and a random nonce from
 * the caller so that even a counter rolled back (a failover to a replica that
 * had not seen the last writes) cannot hand out a version again. A missing tag record counts as invalidated: a
 * fill that finds none creates it, so an entry can never be valid against a
 * tag record that vanished. Entries record their epoch, and an entry from
 * another epoch is a miss.
 */

/**
 * Shared by the scripts: the clock, and the state's epoch (a new keyspace when
 * missing). The state also records how many shards the keyspace has: every
 * process of a prefix must agree, or one would store entries where the
 * others' invalidations never go; a script run by a process that disagrees
 * fails with CACHET_SHARDS.
 */
const STATE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function live(state, now)
  local out = {}
  local all = redis.call('HGETALL', state)
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'l:' and tonumber(all[i + 1]) > now then out[#out + 1] = string.sub(f, 3) end
  end
  return out
end
local function epoch(state, plog, candidate, shards)
  local e = redis.call('HGET', state, 'epoch')
  if not e then
    redis.call('DEL', state, plog)
    redis.call('HSET', state, 'epoch', candidate, 'born', now_ms(), 'vseq', 0, 'pseq', 0, 'bseq', 0, 'shards', shards)
    return candidate
  end
  local s = redis.call('HGET', state, 'shards')
  if not s then
    -- A keyspace from before shards were recorded: its live processes use one.
    if #live(state, now_ms()) > 0 then s = '1' else redis.call('HSET', state, 'shards', shards) end
  end
  if s and s ~= shards then
    error({err = 'CACHET_SHARDS this prefix is in use with ' .. s .. ' shards, this process has ' .. shards})
  end
  return e
end
`

/**
 * KEYS: entry, lock, marker, state, plog, tag keys..., expire keys... (one of each per tag)
 * ARGV: skipEntry, lockToken ('' = no lock), lockMs, tagTtlMs, epochCandidate, shards, tag names...
 * → {'hit', envelope, ntags, expire records..., patternsSince...}
 * | {'miss', lock, marker, pseq, epoch, versions..., expire records...}
 * An expire record ('' for none) is the tag's last \`mode: 'expire'\`: the
 * caller compares them with the entry's (an entry is stale once one moved).
 */
export const READ = `${STATE}
local ntags = (#KEYS - 5) / 2
local function expires(out)
  for i = 1, ntags do out[#out + 1] = redis.call('GET', KEYS[5 + ntags + i]) or '' end
  return out
end
local e = epoch(KEYS[4], KEYS[5], ARGV[5], ARGV[6])
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
    elseif meta.ep == e and #meta.t == ntags then
      local valid = true
      for i = 1, ntags do
        if meta.t[i] ~= ARGV[6 + i] or redis.call('GET', KEYS[5 + i]) ~= meta.v[i] then
          valid = false
          break
        end
      end
      if valid then
        local pseq = tonumber(redis.call('HGET', KEYS[4], 'pseq'))
        local p = tonumber(meta.p) or -1
        if pseq == p then return expires({'hit', v, ntags}) end
        if p >= 0 and p < pseq then
          local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
          if oldest[2] ~= nil and tonumber(oldest[2]) <= p + 1 then
            local out = expires({'hit', v, ntags})
            for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. p, '+inf')) do
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
local out = {'miss', 'none', marker, redis.call('HGET', KEYS[4], 'pseq'), e}
local ttl = tonumber(ARGV[4])
for i = 1, ntags do
  local cur = redis.call('GET', KEYS[5 + i])
  if not cur then
    cur = e .. '.' .. redis.call('HINCRBY', KEYS[4], 'vseq', 1) .. '.' .. ARGV[5]
    redis.call('SET', KEYS[5 + i], cur, 'PX', ttl)
  elseif redis.call('PTTL', KEYS[5 + i]) < ttl then
    redis.call('PEXPIRE', KEYS[5 + i], ttl)
  end
  out[5 + i] = cur
end
-- The expire records, created as a baseline ('…@0': never expired) where
-- missing, so that one that vanishes later (eviction) never matches what an
-- entry stored: a missing record counts as expired, as a missing tag record
-- counts as invalidated.
for i = 1, ntags do
  local xk = KEYS[5 + ntags + i]
  local x = redis.call('GET', xk)
  if not x then
    x = e .. '.' .. redis.call('HINCRBY', KEYS[4], 'vseq', 1) .. '.' .. ARGV[5] .. '@0'
    redis.call('SET', xk, x, 'PX', ttl)
  elseif redis.call('PTTL', xk) < ttl then
    redis.call('PEXPIRE', xk, ttl)
  end
  out[#out + 1] = x
end
-- Our own token already there: this read ran before (a client that resends
-- unanswered commands after a reconnect), and the lock is ours.
if marker == '' and ARGV[2] ~= '' then
  if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) or redis.call('GET', KEYS[2]) == ARGV[2] then
    out[2] = 'acquired'
  else
    out[2] = 'busy'
  end
end
return out
`

/**
 * KEYS: entry, lock, state, marker, tag keys..., expire keys... (one of each per tag)
 * ARGV: envelope, px, lockToken, capturedPseq, tagTtlMs, capturedEpoch, captured versions...
 * → 1 stored, 0 fenced out. Releases the lock either way. An expire since
 * the fill started does not fence it out: the envelope carries the expire
 * records as they were then, so the entry reads as stale.
 */
export const WRITE = `
local ntags = (#KEYS - 4) / 2
local ok = redis.call('HGET', KEYS[3], 'epoch') == ARGV[6] and redis.call('HGET', KEYS[3], 'pseq') == ARGV[4]
if ok then
  for i = 5, 4 + ntags do
    if redis.call('GET', KEYS[i]) ~= ARGV[i + 2] then
      ok = false
      break
    end
  end
end
if ok then
  local px = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
  redis.call('DEL', KEYS[4])
  -- Tag records (and their expire records) outlive every entry that carries them.
  local keep = math.max(px + 60000, tonumber(ARGV[5]))
  for i = 5, #KEYS do
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl ~= -2 and ttl < keep then redis.call('PEXPIRE', KEYS[i], keep) end
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
 * KEYS: state, plog, tag keys... (and, with expire, their expire keys...)
 * ARGV: channel ('' = a shard other than the home: record only), epochCandidate,
 * tagTtlMs, plogMax, payload, leaseMs, shards, expire ('' or, for \`mode: 'expire'\`,
 * the invalidator's clock in ms), patterns...
 * An expire moves each existing tag's expire record (\`<version>@<ms>\`), kept
 * as long as the tag's record, instead of the tag's version.
 * → {busSeq, waitMs, epoch, live process ids...}. waitMs > 0 while the keyspace is
 * younger than a lease: processes that held leases before it was born are
 * unknown, so the caller waits until theirs have surely run out. Without a
 * channel → {0, 0, epoch}.
 */
export const INVALIDATE = `${STATE}
local e = epoch(KEYS[1], KEYS[2], ARGV[2], ARGV[7])
local now = now_ms()
local wait = math.max(0, tonumber(redis.call('HGET', KEYS[1], 'born')) + tonumber(ARGV[6]) - now)
-- A missing record already counts as invalidated (no entry can match it):
-- only records that exist move, so no shard gains records it never needed.
local expire = ARGV[8] ~= ''
local ntags = #KEYS - 2
if expire then ntags = ntags / 2 end
for i = 3, 2 + ntags do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local v = e .. '.' .. redis.call('HINCRBY', KEYS[1], 'vseq', 1) .. '.' .. ARGV[2]
    if expire then
      local keep = math.max(redis.call('PTTL', KEYS[i]), tonumber(ARGV[3]))
      redis.call('SET', KEYS[i + ntags], v .. '@' .. ARGV[8], 'PX', keep)
    else
      redis.call('SET', KEYS[i], v, 'PX', ARGV[3])
    end
  end
end
for i = 9, #ARGV do
  local s = redis.call('HINCRBY', KEYS[1], 'pseq', 1)
  redis.call('ZADD', KEYS[2], s, s .. ':' .. ARGV[i])
end
if #ARGV >= 9 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1)) end
if ARGV[1] == '' then return {0, 0, e} end
local seq = redis.call('HINCRBY', KEYS[1], 'bseq', 1)
redis.call('PUBLISH', ARGV[1], e .. '|' .. seq .. '|' .. ARGV[5])
local out = {seq, wait, e}
for _, id in ipairs(live(KEYS[1], now)) do out[#out + 1] = id end
return out
`

/**
 * KEYS: state. ARGV: busSeq, epoch, process ids...
 * → the ids whose lease is live and who have not applied busSeq yet, or
 * {'!epoch'} when the keyspace was reborn meanwhile (the sequence means
 * nothing any more: the caller waits out a lease instead).
 */
export const PENDING = `${STATE}
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return {'!epoch'} end
local now = now_ms()
local seq = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV do
  local exp = redis.call('HGET', KEYS[1], 'l:' .. ARGV[i])
  if exp and tonumber(exp) > now and tonumber(redis.call('HGET', KEYS[1], 'a:' .. ARGV[i]) or '0') < seq then
    out[#out + 1] = ARGV[i]
  end
end
return out
`

/**
 * KEYS: state. ARGV: id, leaseMs, appliedSeq, knownEpoch.
 * → {'ok', busSeq} | {'epoch', current}: the keyspace was reborn; resync first.
 */
export const RENEW = `${STATE}
local e = redis.call('HGET', KEYS[1], 'epoch')
if e ~= ARGV[4] then return {'epoch', e or ''} end
local now = now_ms()
redis.call('HSET', KEYS[1], 'l:' .. ARGV[1], now + tonumber(ARGV[2]), 'a:' .. ARGV[1], ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  if string.sub(f, 1, 2) == 'l:' and tonumber(all[i + 1]) <= now then
    redis.call('HDEL', KEYS[1], f, 'a:' .. string.sub(f, 3))
  end
end
return {'ok', redis.call('HGET', KEYS[1], 'bseq')}
`

/**
 * KEYS: state, plog. ARGV: epochCandidate, id, leaseMs, shards.
 * → {epoch, busSeq}: the process starts over from here.
 */
export const RESYNC = `${STATE}
local e = epoch(KEYS[1], KEYS[2], ARGV[1], ARGV[4])
local seq = redis.call('HGET', KEYS[1], 'bseq')
redis.call('HSET', KEYS[1], 'l:' .. ARGV[2], now_ms() + tonumber(ARGV[3]), 'a:' .. ARGV[2], seq)
return {e, tonumber(seq)}
`

/**
 * KEYS: top. ARGV: ttlMs, max, then count, url pairs. Merges a process's top
 * URLs into the shared list: the highest count per URL stays (processes
 * count on their own, so counts are not added up), the list keeps its `max`
 * highest, and it lives `ttlMs` after the last save.
 */
export const TOP_SAVE = `
for i = 3, #ARGV, 2 do
  local n = tonumber(ARGV[i])
  local cur = redis.call('ZSCORE', KEYS[1], ARGV[i + 1])
  if not cur or tonumber(cur) < n then redis.call('ZADD', KEYS[1], n, ARGV[i + 1]) end
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('ZCARD', KEYS[1])
`

/**
 * KEYS: state, plog (the home's). ARGV: epochCandidate, shards. Fails with
 * CACHET_SHARDS when the prefix is in use with another shard count.
 */
export const CHECK_SHARDS = `${STATE}
epoch(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`

/** KEYS: state. ARGV: id. A clean shutdown: nobody waits for this process. */
export const LEAVE = `
redis.call('HDEL', KEYS[1], 'l:' .. ARGV[1], 'a:' .. ARGV[1])
return 1
`

/**
 * KEYS: state. ARGV: id, appliedSeq, epoch, ackChannel. Records what this
 * process applied (only in its own epoch) and wakes the waiting invalidators.
 */
export const ACK = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'a:' .. ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
`
