"""The event stage of the story store: the Lua that scores an article against the open stories its rare terms
and entities point to, joins the best or opens a story, and updates the index, beside the packing of its
arguments. It runs inside the story store's one atomic call (workers/stores/stories.py); the same rule in
Python is feeds/dedup/event.py, and a test checks they decide alike."""

from __future__ import annotations

import math
import struct
from typing import Any

import redis

from feeds.dedup import df as base_df
from feeds.dedup import event as ev

# Postings live in buckets this long; a lookup reads the buckets that can hold a story still open
# (ev.MAX_HOURS back), so an entry lives at most MAX_HOURS + one bucket.
BUCKET_S = 6 * 3600
# Story ids kept per posting key (newest first): a term shared by more stories than this in two days is not
# rare, and the stories it points to are reached through the article's other keys.
POST_LIMIT = 6
# Stories scored per article at most (those hit by the most posting keys first): the cost of one decision
# stays fixed whatever the number of open stories (bench/events_bench.py measures it at 100,000).
MAX_CANDIDATES = 32
# The store's own document counts (the IDF of rare terms, feeds/dedup/df.py) are kept per epoch of this length,
# and an article reads the last DF_EPOCHS of them: the counts cover the last two to four weeks of news. A name
# that burst a month ago is rare again, and the counts (one hash field per term) stay as large as a month of
# news, not as large as the daemon's whole life (one count for all time grew by every new name, for ever).
DF_EPOCH_S = 14 * 86400
DF_EPOCHS = 2
# An article counts from its publication time when that is at most LATE_S old (clamp_time).
LATE_S = 7 * 86400
# Each write renews an epoch's TTL. Its counts are read by articles dated up to DF_EPOCHS - 1 epochs after it
# closes, which may arrive LATE_S later still: the TTL must cover that from the epoch's last writes.
DF_TTL_S = DF_EPOCHS * DF_EPOCH_S + 86400
if DF_TTL_S < (DF_EPOCHS - 1) * DF_EPOCH_S + LATE_S:
    raise AssertionError("an epoch's document counts must outlive the articles that read them")


# The all-time counts of stores before the epochs (their keys, under the store's prefix).
LEGACY_DF, LEGACY_N = "ev:df", "ev:n"


def df_epoch(t: float) -> int:
    """The epoch whose document counts an article at time t adds to."""
    return int(t // DF_EPOCH_S)


def clamp_time(published: float | None, now: float) -> float:
    """The time an article counts from: its publication when plausible (a feed's date in the future, or more
    than a window old, is not), else the time it arrived."""
    if published is None or published > now + 300 or published < now - LATE_S:
        return now
    return published


def pack_vector(v: ev.EventVector, df_terms: set[int]) -> bytes:
    """t, the three quantised vectors (3-byte term + 1-byte weight), rare terms, posting keys, df terms."""
    def entries(vec: ev.Vector) -> bytes:
        return b"".join(h.to_bytes(3, "big") + bytes([min(255, math.floor(x * ev.QUANT + 0.5))])
                        for h, x in sorted(vec.items(), key=lambda kv: (-kv[1], kv[0])))
    keys = v.posting_keys()
    rare = sorted(v.rare)
    head = struct.pack(">IBBBBB", int(v.t), len(v.content), len(v.title), len(v.entities), len(rare), len(keys))
    return (head + entries(v.content) + entries(v.title) + entries(v.entities)
            + b"".join(h.to_bytes(3, "big") for h in rare) + b"".join(h.to_bytes(3, "big") for h in keys)
            + b"".join(h.to_bytes(3, "big") for h in sorted(df_terms)))


class EventIndex:
    """What the story store needs for the event stage: the article's vector under the current IDF (the shipped
    table plus this store's own counts), and the stage's parameters as script arguments."""

    def __init__(self, client: redis.Redis, prefix: str, articles_per_day: int) -> None:
        self.r = client
        self.prefix = prefix
        per_bucket = max(1.0, articles_per_day * BUCKET_S / 86400)
        keys = ev.POST_TERMS + ev.POST_ENTITIES
        self.shards = max(1, math.ceil(per_bucket * keys / 80))  # ~80 fields per hash (compact encoding)
        self.nbuckets = math.ceil(ev.MAX_HOURS * 3600 / BUCKET_S)
        # Stores written before the epochs (2026-12-04) kept one all-time count under these names, no longer
        # read; each process frees them with its first read of the counts (UNLINK of a missing key is a no-op).
        self.legacy: list[str] = [f"{prefix}{LEGACY_DF}", f"{prefix}{LEGACY_N}"]

    def vector(self, terms: ev.EventTerms, t: float) -> tuple[ev.EventVector, set[int]]:
        """The article's vector, and the terms whose document counts it adds to (the tracked, rare ones)."""
        base, n0 = base_df.base()
        wanted = sorted(h for h in set(terms.content) | set(terms.entities) if base.get(h, 0) <= base_df.TRACK_MAX)
        seen, n1 = self.online_counts(wanted, t)
        n = n0 + n1
        scale = n / n0
        v = ev.vectorise(terms, lambda h: base_df.online_df(h, base, seen, scale), n, t)
        # Counted: the tracked terms that made the article's vector, not every rare term of its text (hundreds
        # of HINCRBYs per article, most of the event stage's cost). A term that bursts (a new name) has a high
        # IDF, so it is in the vectors and counted until it is common enough to fall out of them.
        return v, {h for h in wanted if h in v.content or h in v.entities}

    def online_counts(self, terms: list[int], t: float) -> tuple[dict[int, int], int]:
        """The store's own counts at time t (the last DF_EPOCHS epochs): documents per term, and documents."""
        fields = [h.to_bytes(3, "big") for h in terms] or [b"\0\0\0"]
        pipe = self.r.pipeline(transaction=False)
        epoch = df_epoch(t)
        if self.legacy:
            pipe.unlink(*self.legacy)
            self.legacy = []
        for e in range(epoch - DF_EPOCHS + 1, epoch + 1):
            pipe.hmget(f"{self.prefix}ev:df:{e}", fields)
            pipe.get(f"{self.prefix}ev:n:{e}")
        replies = pipe.execute()[-2 * DF_EPOCHS:]
        seen: dict[int, int] = {}
        n = 0
        for online, count in zip(replies[::2], replies[1::2], strict=True):
            n += int(count or 0)
            for h, x in zip(terms, online, strict=False):
                if x is not None:
                    seen[h] = seen.get(h, 0) + int(x)
        return seen, n

    def args(self, v: ev.EventVector, df_terms: set[int]) -> list[Any]:
        bucket = int(v.t // BUCKET_S)
        return [pack_vector(v, df_terms), bucket, self.nbuckets, self.shards, repr(ev.W_CONTENT), repr(ev.W_TITLE),
                repr(ev.W_ENTITIES), repr(ev.W_HOURS), repr(ev.W_RARE), repr(ev.BIAS), int(ev.IDLE_HOURS * 3600),
                int(ev.MAX_HOURS * 3600), ev.RARE_CAP, POST_LIMIT, MAX_CANDIDATES, ev.CONTENT_TERMS, ev.TITLE_TERMS,
                ev.ENTITY_TERMS, int(ev.MAX_HOURS * 3600 + BUCKET_S), repr(ev.QUANT), df_epoch(v.t), DF_TTL_S]


# ARGV[22..43] (see EventIndex.args). Runs after the near-duplicate stages (outcome, story already set);
# `event_join()` may change a new article's outcome to 'e' (joined an event), `event_file()` then files it.
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
  local hours = math.max(0, (a.t - s.first) / 3600)
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
    for b = ev_bucket, ev_bucket - ev_nb, -1 do
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
      if art.t - s.last <= IDLE and art.t - s.first <= MAXAGE then
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
