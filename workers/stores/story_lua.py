"""The story store's Lua: the key layout in Redis and the one atomic script that files an article (its
event stage is workers/stores/events_lua.py), beside the script that reads a story back."""

from __future__ import annotations

from workers.stores import events_lua

# Layout (all under `prefix`, all binary-safe):
#   a:<bucket>:<shard>  hash  aid(6) → outcome(1) story(6) dup(6) outlet
#   u:<bucket>:<shard>  hash  aid(6) chunk(1) → ≤ 64 bytes of the article id (a long URL in one value
#                             would push its whole hash out of the compact encoding: Redis' default
#                             hash-max-ziplist-value is 64)
#   g:<bucket>:<shard>  hash  aid(6) → MinHash signature (32 bytes) + lead bitmap (16 bytes); one value,
#                             so the lead costs no extra field (an entry of 32 bytes, stored before the
#                             lead existed, is still compared on its text)
#   f:<bucket>:<shard>  hash  fingerprint bytes 3-8 → aid(6)   (bytes 1-2 pick the shard)
#   b:<bucket>:<shard>  hash  band key bytes 3-6 → aid(6)     (the LSH index, text and lead band keys
#                             alike: last writer wins; 32 bits
#                             within a shard of ~64 fields collide ~1e-8 of the time, and a candidate
#                             is verified on its signature anyway)
#   s:<story(6)>        hash  n → articles, f → first article id, o:<outlet> → 1   (stories of ≥ 2 only)
# Articles are grouped into time buckets (window/7 long) and every bucket's hashes expire together
# `window` after the bucket closes, so memory is bounded without a per-entry TTL. Many small hashes
# rather than one key per entry: Redis stores a hash of ≤ 128 short fields as one compact ziplist,
# ~4 bytes of overhead per field instead of ~60 for a key of its own; that is what keeps an article
# under 300 bytes. Keys are built inside the script, so this needs one Redis, not a Redis Cluster.
PRELUDE = r"""
local P = ARGV[1]
local bucket = tonumber(ARGV[2])
local nbuckets = tonumber(ARGV[3])
local small = tonumber(ARGV[4])
local id_shards = tonumber(ARGV[5])
local function shard(s, n) return (string.byte(s, 1) * 256 + string.byte(s, 2)) % n end
local function key(kind, b, s, n) return P .. kind .. b .. ':' .. shard(s, n) end
-- the article entry of aid, newest bucket first: value, bucket
local function find_a(aid)
  for b = bucket, bucket - nbuckets, -1 do
    local v = redis.call('HGET', key('a:', b, aid, small), aid)
    if v then return v, b end
  end
  return nil, nil
end
local function parse(v)
  return string.sub(v, 1, 1), string.sub(v, 2, 7), string.sub(v, 8, 13), string.sub(v, 14)
end
local function article_id(aid, b)
  local k, parts = key('u:', b, aid, id_shards), {}
  for i = 0, 255 do
    local part = redis.call('HGET', k, aid .. string.char(i))
    if not part then break end
    parts[#parts + 1] = part
  end
  if #parts == 0 then return false end
  return table.concat(parts)
end
-- outlets, article count and first article id of a story
local function story_info(story)
  local rec = redis.call('HGETALL', P .. 's:' .. story)
  if #rec > 0 then
    local outlets, n, first = {}, 0, false
    for i = 1, #rec, 2 do
      if rec[i] == 'n' then n = tonumber(rec[i + 1])
      elseif rec[i] == 'f' then first = rec[i + 1]
      else table.insert(outlets, string.sub(rec[i], 3)) end
    end
    return outlets, n, first
  end
  local v, b = find_a(story)
  if not v then return {}, 0, false end
  local _, _, _, outlet = parse(v)
  return {outlet}, 1, article_id(story, b)
end
"""

ASSIGN = PRELUDE + events_lua.LUA + r"""
local aid, id, outlet = ARGV[6], ARGV[7], ARGV[8]
local fp, sig, bands = ARGV[9], ARGV[10], ARGV[11]
local ttl, bands_n = tonumber(ARGV[12]), tonumber(ARGV[13])
local need_cross, need_same = tonumber(ARGV[14]), tonumber(ARGV[15])
local story_ttl = tonumber(ARGV[16])
local nbins, need_lead_text, need_lead = tonumber(ARGV[17]), tonumber(ARGV[18]), tonumber(ARGV[19])
local need_veto_below, veto = tonumber(ARGV[20]), tonumber(ARGV[21])
local NONE = '\0\0\0\0\0\0'

-- Jaccard of two leads' word sets from their bitmaps: linear counting of each and of their union
-- (feeds.dedup_lead.lead_similarity does the same in Python)
local popcount = nil
local function lead_similarity(a, b)
  if not popcount then
    popcount = {[0] = 0}
    for i = 1, 255 do popcount[i] = popcount[math.floor(i / 2)] + i % 2 end
  end
  local ca, cb, cu = 0, 0, 0
  for k = 1, #a do
    local x, y = string.byte(a, k), string.byte(b, k)
    ca, cb, cu = ca + popcount[x], cb + popcount[y], cu + popcount[bit.bor(x, y)]
  end
  local m = 8 * #a
  local function count(ones) return -m * math.log(1 - math.min(ones, m - 1) / m) end
  local nu = count(cu)
  if nu <= 0 then return 0 end
  return math.max(0, math.min(1, (count(ca) + count(cb) - nu) / nu))
end

local function reply(outcome, story, dup)
  local outlets, n, first = story_info(story)
  local dup_id = false
  if dup ~= NONE then
    local v, b = find_a(dup)
    if v then dup_id = article_id(dup, b) end
  end
  local first_seen = 0
  local ev_raw = redis.call('GET', P .. 'ev:' .. story)
  if ev_raw then first_seen = struct.unpack('>I4', ev_raw, 1) end
  return {outcome, story, dup_id, n, outlets, first_seen}
end

-- 1. a task re-run: the same article again is answered from what was stored, and counted once
local prev = find_a(aid)
if prev then
  local o, story, dup = parse(prev)
  return reply(o, story, dup)
end

local outcome, story, dup = 'n', aid, NONE
-- 2. exact copy: same normalised text
for b = bucket, bucket - nbuckets, -1 do
  local cand = redis.call('HGET', key('f:', b, fp, small), string.sub(fp, 3))
  if cand then
    local v = find_a(cand)
    if v then
      local _, s = parse(v)
      outcome, story, dup = 'd', s, cand
      break
    end
  end
end
-- 3. near copy: candidates from the LSH bands, verified on the stored signatures
if outcome == 'n' and #sig > 0 then
  local seen, best = {}, -1
  for i = 0, #bands / 7 - 1 do
    local band = string.sub(bands, i * 7 + 1, i * 7 + 7)
    local field = string.sub(band, 3, 6)
    for b = bucket, bucket - nbuckets, -1 do
      local cand = redis.call('HGET', key('b:', b, band, bands_n), field)
      if cand and not seen[cand] then
        seen[cand] = true
        local other = redis.call('HGET', key('g:', b, cand, small), cand)
        local v = redis.call('HGET', key('a:', b, cand, small), cand)
        if other and v and #other >= nbins then
          local same = 0
          for k = 1, nbins do
            if string.byte(sig, k) == string.byte(other, k) then same = same + 1 end
          end
          local _, s, _, o = parse(v)
          local ok = false
          if o == outlet then
            ok = same >= need_same
          else
            -- cross-outlet: shared text whose lead does not contradict it (a follow-up reusing
            -- background), or some shared text and a closely matching title/lead (a rewrite)
            local leads = #sig > nbins and #other == #sig
            local function lead() return lead_similarity(string.sub(sig, nbins + 1), string.sub(other, nbins + 1)) end
            if same >= need_cross then
              ok = same >= need_veto_below or not leads or lead() >= veto
            elseif same >= need_lead_text and leads then
              ok = lead() >= need_lead
            end
          end
          if ok and same > best then
            best, outcome, story, dup = same, 'm', s, cand
          end
        end
      end
    end
  end
end

-- 3b. not a copy: maybe another report of an event already open (workers/stores/events_lua.py)
if outcome == 'n' then
  local joined = event_join()
  if joined then outcome, story = 'e', joined end
elseif #EV > 0 then
  art = parse_article()
end

-- 4. file the article (its own keys make later copies of it findable too)
local function put(k, field, value)
  redis.call('HSET', k, field, value)
  redis.call('EXPIRE', k, ttl)
end
put(key('a:', bucket, aid, small), aid, outcome .. story .. dup .. outlet)
for i = 0, math.ceil(#id / 64) - 1 do
  put(key('u:', bucket, aid, id_shards), aid .. string.char(i), string.sub(id, i * 64 + 1, i * 64 + 64))
end
put(key('f:', bucket, fp, small), string.sub(fp, 3), aid)
if #sig > 0 then
  put(key('g:', bucket, aid, small), aid, sig)
  for i = 0, #bands / 7 - 1 do
    local band = string.sub(bands, i * 7 + 1, i * 7 + 7)
    put(key('b:', bucket, band, bands_n), string.sub(band, 3, 6), aid)
  end
end
if outcome ~= 'n' then
  local sk = P .. 's:' .. story
  if redis.call('EXISTS', sk) == 0 then
    local outlets, n, first = story_info(story)
    redis.call('HSET', sk, 'n', math.max(n, 1), 'f', first or '')
    for _, o in ipairs(outlets) do redis.call('HSET', sk, 'o:' .. o, 1) end
  end
  redis.call('HINCRBY', sk, 'n', 1)
  redis.call('HSET', sk, 'o:' .. outlet, 1)
  redis.call('EXPIRE', sk, story_ttl)
end
event_file(story, outcome)
return reply(outcome, story, dup)
"""

STORY = PRELUDE + r"""
local outlets, n, first = story_info(ARGV[6])
return {n, first, outlets}
"""
