"""The event stage's Lua: scores an article against the open stories its rare terms and entities point to,
joins the best or opens a story, and updates the index and the epoch document counts (arguments packed by
workers/stores/events.py; spliced into the story store's one script by workers/stores/story_lua.py)."""

from __future__ import annotations

# ARGV[22..44] (see EventIndex.args in workers/stores/events.py). Runs after the near-duplicate stages (outcome,
# story already set); `event_join()` may change a new article's outcome to 'e' (joined an event), `event_file()`
# then files it.
LUA = r"""
local EV = ARGV[22]
local ev_bucket, ev_nb, ev_shards = tonumber(ARGV[23]), tonumber(ARGV[24]), tonumber(ARGV[25])
local W1, W2, W3, W4, W5, BIAS = tonumber(ARGV[26]), tonumber(ARGV[27]), tonumber(ARGV[28]), tonumber(ARGV[29]),
  tonumber(ARGV[30]), tonumber(ARGV[31])
local IDLE, MAXAGE, RARECAP = tonumber(ARGV[32]), tonumber(ARGV[33]), tonumber(ARGV[34])
local POSTLIM, MAXCAND = tonumber(ARGV[35]), tonumber(ARGV[36])
local KC, KT, KE = tonumber(ARGV[37]), tonumber(ARGV[38]), tonumber(ARGV[39])
local STORY_TTL, QUANT = tonumber(ARGV[40]), tonumber(ARGV[41])
local DF_KEY, N_KEY, DF_TTL = P .. 'ev:df:' .. ARGV[42], P .. 'ev:n:' .. ARGV[42], tonumber(ARGV[43])
local ev_ahead = tonumber(ARGV[44])

-- the article: t, then (term 3 bytes, weight 1 byte) lists, rare terms, posting keys, df terms
local art = nil
local function read_entries(s, pos, count)
  local keys, w = {}, {}
  for i = 1, count do
    local k = string.sub(s, pos, pos + 2)
    keys[i] = k
    w[k] = string.byte(s, pos + 3) / QUANT
    pos = pos + 4
  end
  return {keys = keys, w = w}, pos
end
local function parse_article()
  local t = struct.unpack('>I4', EV, 1)
  local nc, nt, ne, nr, np = string.byte(EV, 5, 9)
  local pos = 10
  local c, ti, e
  c, pos = read_entries(EV, pos, nc)
  ti, pos = read_entries(EV, pos, nt)
  e, pos = read_entries(EV, pos, ne)
  local rare, post, dfk = {}, {}, {}
  for i = 1, nr do rare[i] = string.sub(EV, pos, pos + 2); pos = pos + 3 end
  for i = 1, np do post[i] = string.sub(EV, pos, pos + 2); pos = pos + 3 end
  while pos + 2 <= #EV do dfk[#dfk + 1] = string.sub(EV, pos, pos + 2); pos = pos + 3 end
  return {t = t, c = c, ti = ti, e = e, rare = rare, post = post, dfk = dfk}
end

-- a story record: first(4) last(4) n(2) nc nt ne, then the three lists
local function story_key(story) return P .. 'ev:' .. story end
local function read_story(raw)
  local first, last, n = struct.unpack('>I4I4I2', raw, 1)
  local nc, nt, ne = string.byte(raw, 11, 13)
  local pos = 14
  local c, ti, e
  c, pos = read_entries(raw, pos, nc)
  ti, pos = read_entries(raw, pos, nt)
  e, pos = read_entries(raw, pos, ne)
  return {first = first, last = last, n = n, c = c, ti = ti, e = e}
end

local function cosine(a, b)
  local s = 0
  for _, k in ipairs(a.keys) do
    local y = b.w[k]
    if y then s = s + a.w[k] * y end
  end
  return s
end

local function score(a, s)
  local hours = math.abs(a.t - s.first) / 3600
  local rare = 0
  for _, k in ipairs(a.rare) do if s.c.w[k] then rare = rare + 1 end end
  rare = math.min(RARECAP, rare)
  return W1 * cosine(a.c, s.c) + W2 * cosine(a.ti, s.ti) + W3 * cosine(a.e, s.e)
    + W4 * math.min(hours, MAXAGE / 3600) / 24 + W5 * rare / RARECAP + BIAS
end

local function posting_key(b, term)
  return P .. 'ep:' .. b .. ':' .. ((string.byte(term, 1) * 256 + string.byte(term, 2)) % ev_shards)
end

-- 3b. an event: the open story that scores best (>= 0), among those the article's posting keys point to
local function event_join()
  if #EV == 0 then return nil end
  art = parse_article()
  local hits, order = {}, {}
  for _, term in ipairs(art.post) do
    for b = ev_bucket + ev_ahead, ev_bucket - ev_nb, -1 do
      local v = redis.call('HGET', posting_key(b, term), term)
      if v then
        for i = 0, #v / 6 - 1 do
          local sid = string.sub(v, i * 6 + 1, i * 6 + 6)
          if not hits[sid] then hits[sid] = 0; order[#order + 1] = sid end
          hits[sid] = hits[sid] + 1
        end
      end
    end
  end
  -- the MAXCAND stories hit by the most keys (ties: smaller id first): bucketed by hit count, so only the
  -- small buckets are sorted, not every story the keys point to (hundreds when the index is full)
  local by, top = {}, 0
  for _, sid in ipairs(order) do
    local h = hits[sid]
    if not by[h] then by[h] = {} end
    local b = by[h]
    b[#b + 1] = sid
    if h > top then top = h end
  end
  local chosen = {}
  for h = top, 1, -1 do
    local b = by[h]
    if b then
      table.sort(b)
      for _, sid in ipairs(b) do
        if #chosen >= MAXCAND then break end
        chosen[#chosen + 1] = sid
      end
      if #chosen >= MAXCAND then break end
    end
  end
  local best, best_sid, best_first = nil, nil, nil
  for i = 1, #chosen do
    local sid = chosen[i]
    local raw = redis.call('GET', story_key(sid))
    if raw then
      local s = read_story(raw)
      if art.t - s.last <= IDLE and s.first - art.t <= IDLE and art.t - s.first <= MAXAGE then
        local z = score(art, s)
        -- ties go to the story that began first (then the smaller id), as in feeds/dedup/event.py
        if z >= 0 and (best == nil or z > best or (z == best and (s.first < best_first
            or (s.first == best_first and sid < best_sid)))) then
          best, best_sid, best_first = z, sid, s.first
        end
      end
    end
  end
  return best_sid
end

-- merge one list of the article into a story's list (drift bounded: see feeds/dedup/event.py Story.add)
local function merge(mine, theirs, share, keep)
  local w = {}
  for _, k in ipairs(mine.keys) do w[k] = mine.w[k] end
  for _, k in ipairs(theirs.keys) do w[k] = (w[k] or 0) + share * theirs.w[k] end
  local keys = {}
  for k, _ in pairs(w) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) if w[x] ~= w[y] then return w[x] > w[y] end return x < y end)
  local top, norm = {}, 0
  for i = 1, math.min(#keys, keep) do top[i] = keys[i]; norm = norm + w[keys[i]] * w[keys[i]] end
  norm = math.sqrt(norm)
  if norm == 0 then norm = 1 end
  local out = {}
  for _, k in ipairs(top) do
    local q = math.floor(w[k] / norm * QUANT + 0.5)
    if q > 0 then out[#out + 1] = k .. string.char(math.min(q, 255)) end
  end
  return out
end

local function encode(first, last, n, c, ti, e)
  return struct.pack('>I4I4I2BBB', first, last, math.min(n, 65535), #c, #ti, #e) .. table.concat(c) .. table.concat(ti)
    .. table.concat(e)
end

-- 5. file the article's vector into its story and its posting keys into the index; count its terms. A copy
-- (exact or near) only joins a story's event record that is still open: one of a closed event (its record
-- expired, the story's copies index lives on) must not reopen it with the copy's time as its first report.
local function event_file(story, outcome)
  if not art then return end
  local sk = story_key(story)
  local raw = redis.call('GET', sk)
  local copy = outcome ~= 'n' and outcome ~= 'e'
  if not raw and copy then return end
  local empty = {keys = {}, w = {}}
  local first, last, n, c, ti, e = art.t, art.t, 1, nil, nil, nil
  if raw then
    local s = read_story(raw)
    local share = 1 / ((s.n + 1) * (s.n + 1))
    c, ti, e = merge(s.c, art.c, share, KC), merge(s.ti, art.ti, share, KT), merge(s.e, art.e, share, KE)
    first, last, n = math.min(s.first, art.t), math.max(s.last, art.t), s.n + 1
    redis.call('SET', sk, encode(first, last, n, c, ti, e), 'KEEPTTL')
  else
    c, ti, e = merge(empty, art.c, 1, KC), merge(empty, art.ti, 1, KT), merge(empty, art.e, 1, KE)
    redis.call('SET', sk, encode(first, last, n, c, ti, e), 'EX', STORY_TTL)
  end
  for _, term in ipairs(art.post) do
    local pk = posting_key(ev_bucket, term)
    local v = redis.call('HGET', pk, term) or ''
    local kept = {story}
    for i = 0, #v / 6 - 1 do
      local sid = string.sub(v, i * 6 + 1, i * 6 + 6)
      if sid ~= story and #kept < POSTLIM then kept[#kept + 1] = sid end
    end
    redis.call('HSET', pk, term, table.concat(kept))
    redis.call('EXPIRE', pk, STORY_TTL + 3600 * 6)
  end
  -- Copies (exact or near) are not counted as documents: a name syndicated to every outlet would otherwise
  -- look common, and other outlets' own reports of that event would share only "common" words with it.
  if copy then return end
  for _, term in ipairs(art.dfk) do redis.call('HINCRBY', DF_KEY, term, 1) end
  if #art.dfk > 0 then redis.call('EXPIRE', DF_KEY, DF_TTL) end
  redis.call('INCR', N_KEY)
  redis.call('EXPIRE', N_KEY, DF_TTL)
end
"""
