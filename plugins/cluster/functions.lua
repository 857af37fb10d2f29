#!lua name=chatd
-- chatd's cluster functions (Redis 7 FUNCTION LOAD; they survive a restart
-- with AOF). Loaded by plugins/cluster (see docs/scaling.md). Every function
-- takes the key prefix as ARGV[1] and, when it acts for a node, the node id
-- as ARGV[2]: a node that is not in <prefix>nodes has been fenced and may not
-- write (the answer is {'fenced'}).
--
-- Keys (P = the prefix, R = a room, N = a node id, F = a folded name):
--   P clock          hash  tick (logical clock), adv (Redis ms of its last advance)
--   P nodes          hash  N -> tick of N's last beat (live nodes only)
--   P reap           set   fenced nodes whose entries are still being removed
--   P np:N           set   R \0 F: N's presence entries
--   P nn:N           set   F: names N holds
--   P nk:F           hash  o (owner), d (display name), @N -> connections on N
--   P m:{R}          hash  seq (last id), pv (presence version)
--   P s:{R}          stream of R's messages, id "<seq>-0", fields u (username)
--                    t (text) ts o (origin node) q (the node's request number)
--   P pm:{R}         hash  N \0 F -> display name (R's members by node)
--   P pf:{R}         hash  F -> on how many nodes F is present in R
--   P rl             zset  R -> people in R (distinct names over the nodes)
--   P d:{R}:G        hash  dedup key -> id, generation G = floor(id / window)
--   P ab:A           hash  per-address token bucket (l milli-tokens, t ms)
--   P dmseq          the last id of a private message
-- Channels: P r:R (room R: messages "m", presence "p", ephemeral "e"),
--           P n:N (node N: heartbeats "h", direct messages "d", fencing "f").

local VERSION = '6'

-- Integers as text without exponent (Lua numbers are doubles).
local function S(n) return string.format('%d', n) end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function rkey(p, kind, room) return p .. kind .. ':{' .. room .. '}' end

local function alive(p, node)
  return redis.call('HEXISTS', p .. 'nodes', node) == 1
end

-- The logical clock: one tick per tick_ms of Redis time, but never more than
-- one per call. A pause of Redis (or of every node) therefore costs one tick,
-- not the length of the pause: leases measured in ticks survive it.
local function clock_advance(p, tick_ms)
  local ck = p .. 'clock'
  local v = redis.call('HMGET', ck, 'tick', 'adv')
  local tick, adv, now = tonumber(v[1]) or 0, tonumber(v[2]) or 0, now_ms()
  if now < adv then
    redis.call('HSET', ck, 'adv', S(now))
  elseif now - adv >= tick_ms then
    tick = tick + 1
    redis.call('HSET', ck, 'tick', S(tick), 'adv', S(now))
  end
  return tick
end

-- ---- presence ----

local function presence_event(p, room, ev)
  local pv = redis.call('HINCRBY', rkey(p, 'm', room), 'pv', 1)
  redis.call('PUBLISH', p .. 'r:' .. room, 'p\n' .. S(pv) .. '\n' .. ev)
end

-- The room list: `rl` scores each room by its people (distinct names over
-- the nodes; `pf:{room}` counts the nodes each name is present through).
local function people_count(p, room, fold, delta)
  local key = rkey(p, 'pf', room)
  local n = redis.call('HINCRBY', key, fold, delta)
  if delta > 0 and n == 1 then
    redis.call('ZINCRBY', p .. 'rl', 1, room)
  elseif delta < 0 and n <= 0 then
    redis.call('HDEL', key, fold)
    if tonumber(redis.call('ZINCRBY', p .. 'rl', -1, room)) <= 0 then redis.call('ZREM', p .. 'rl', room) end
  end
end

local function presence_add(p, room, node, fold, display)
  local field = node .. '\0' .. fold
  local key = rkey(p, 'pm', room)
  local old = redis.call('HGET', key, field)
  if old == display then return end
  redis.call('HSET', key, field, display)
  if not old then people_count(p, room, fold, 1) end
  redis.call('SADD', p .. 'np:' .. node, room .. '\0' .. fold)
  presence_event(p, room, 'j\n' .. node .. '\n' .. fold .. '\n' .. display)
end

local function presence_remove(p, room, node, fold)
  if redis.call('HDEL', rkey(p, 'pm', room), node .. '\0' .. fold) == 0 then return end
  people_count(p, room, fold, -1)
  redis.call('SREM', p .. 'np:' .. node, room .. '\0' .. fold)
  presence_event(p, room, 'l\n' .. node .. '\n' .. fold)
end

local function presence_rename(p, room, node, old_fold, fold, display)
  local key = rkey(p, 'pm', room)
  if redis.call('HDEL', key, node .. '\0' .. old_fold) == 0 then
    presence_add(p, room, node, fold, display)
    return
  end
  people_count(p, room, old_fold, -1)
  redis.call('SREM', p .. 'np:' .. node, room .. '\0' .. old_fold)
  if redis.call('HSET', key, node .. '\0' .. fold, display) == 1 then people_count(p, room, fold, 1) end
  redis.call('SADD', p .. 'np:' .. node, room .. '\0' .. fold)
  presence_event(p, room, 'r\n' .. node .. '\n' .. old_fold .. '\n' .. fold .. '\n' .. display)
end

local function split0(s)
  local i = string.find(s, '\0', 1, true)
  return string.sub(s, 1, i - 1), string.sub(s, i + 1)
end

-- ---- names ----

local function name_drop(p, node, fold)
  local key = p .. 'nk:' .. fold
  if redis.call('HDEL', key, '@' .. node) == 1 and redis.call('HLEN', key) <= 2 then
    redis.call('DEL', key)
  end
  redis.call('SREM', p .. 'nn:' .. node, fold)
end

local function name_release(p, node, fold)
  local key = p .. 'nk:' .. fold
  local n = redis.call('HINCRBY', key, '@' .. node, -1)
  if n <= 0 then name_drop(p, node, fold) end
end

-- ---- nodes: fencing and reaping ----

local function fence(p, node)
  redis.call('HDEL', p .. 'nodes', node)
  redis.call('SADD', p .. 'reap', node)
  redis.call('PUBLISH', p .. 'n:' .. node, 'f')
end

-- Remove up to budget entries of fenced nodes (leave events go out as for a
-- live node's leaves). Returns how many were removed.
local function reap_some(p, budget)
  local done = 0
  for _, node in ipairs(redis.call('SMEMBERS', p .. 'reap')) do
    if done >= budget then break end
    for _, e in ipairs(redis.call('SPOP', p .. 'np:' .. node, budget - done)) do
      local room, fold = split0(e)
      presence_remove(p, room, node, fold)
      done = done + 1
    end
    if done < budget then
      for _, fold in ipairs(redis.call('SPOP', p .. 'nn:' .. node, budget - done)) do
        local key = p .. 'nk:' .. fold
        if redis.call('HDEL', key, '@' .. node) == 1 and redis.call('HLEN', key) <= 2 then
          redis.call('DEL', key)
        end
        done = done + 1
      end
    end
    if redis.call('SCARD', p .. 'np:' .. node) == 0 and redis.call('SCARD', p .. 'nn:' .. node) == 0 then
      redis.call('SREM', p .. 'reap', node)
    end
  end
  return done
end

-- chatd_hello P N tick_ms: register a new node (a fresh id per start and per
-- fencing). Returns {tick}.
local function hello(keys, args)
  local p, node, tick_ms = args[1], args[2], tonumber(args[3])
  local tick = clock_advance(p, tick_ms)
  redis.call('HSET', p .. 'nodes', node, S(tick))
  return { tick }
end

-- chatd_beat P N seq tick_ms lease_ticks reap_budget: the node's heartbeat.
-- Advances the clock, renews N's lease, fences every node whose last beat is
-- more than lease_ticks behind (only a live node reaps), removes some of the
-- fenced nodes' entries, and publishes "h <seq>" on N's own channel: the node
-- must receive it on its subscription (a dead subscription is noticed).
-- Returns {'ok', tick, reaped} or {'fenced', tick}.
local function beat(keys, args)
  local p, node, seq = args[1], args[2], args[3]
  local tick_ms, lease, budget = tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  local tick = clock_advance(p, tick_ms)
  local mine = redis.call('HGET', p .. 'nodes', node)
  if not mine then return { 'fenced', tick } end
  if tick - tonumber(mine) > lease then
    fence(p, node)
    return { 'fenced', tick }
  end
  redis.call('HSET', p .. 'nodes', node, S(tick))
  local all = redis.call('HGETALL', p .. 'nodes')
  for i = 1, #all, 2 do
    if tick - tonumber(all[i + 1]) > lease then fence(p, all[i]) end
  end
  local reaped = reap_some(p, budget)
  redis.call('PUBLISH', p .. 'n:' .. node, 'h\n' .. seq)
  return { 'ok', tick, reaped }
end

-- chatd_bye P N: a node stopping cleanly: fence it and remove all it held.
local function bye(keys, args)
  local p, node = args[1], args[2]
  fence(p, node)
  local n = 0
  repeat n = reap_some(p, 10000) until n < 10000
  return 'ok'
end

-- ---- messages ----

-- A token bucket of `burst` tokens refilled at `rate` per second, in
-- milli-tokens. Returns 0 when a token was taken, else the ms to wait.
local function bucket_take(key, rate, burst, now)
  local v = redis.call('HMGET', key, 'l', 't')
  local cap = burst * 1000
  local level, t = tonumber(v[1]) or cap, tonumber(v[2]) or now
  if now > t then level = math.min(cap, level + (now - t) * rate) end
  if level < 1000 then return math.ceil((1000 - level) / rate) end
  redis.call('HSET', key, 'l', S(level - 1000), 't', S(math.max(now, t)))
  redis.call('PEXPIRE', key, math.ceil(cap / rate) + 1000)
  return 0
end

-- chatd_publish P N room req username text dedup address rate burst retention window
-- Gives the message the room's next id, appends it to the room's stream and
-- publishes it on the room's channel, in one step: the channel's order is
-- the id order. `dedup` (may be empty) names the sender and its client_id: a
-- second message with the same one within `window` ids gets the first one's
-- id back instead of a new message. Returns {'ok', id, ts},
-- {'dup', id, ts, username, text} ({'dup', id} when no longer retained),
-- {'rate_limited', wait_ms} or {'fenced'}.
local function publish(keys, args)
  local p, node, room, req, user, text, dkey, addr = args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8]
  local rate, burst, retention, window = tonumber(args[9]), tonumber(args[10]), args[11], tonumber(args[12])
  if not alive(p, node) then return { 'fenced' } end
  local now = now_ms()
  local mk, sk, dk = rkey(p, 'm', room), rkey(p, 's', room), rkey(p, 'd', room) .. ':'
  if dkey ~= '' then
    local gen = math.floor((tonumber(redis.call('HGET', mk, 'seq')) or 0) / window)
    local hit = redis.call('HGET', dk .. S(gen), dkey)
    if not hit then hit = redis.call('HGET', dk .. S(gen - 1), dkey) end
    if hit then
      local e = redis.call('XRANGE', sk, hit .. '-0', hit .. '-0')
      if #e == 0 then return { 'dup', tonumber(hit) } end
      local f, m = e[1][2], {}
      for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
      return { 'dup', tonumber(hit), tonumber(m.ts), m.u, m.t }
    end
  end
  if rate > 0 and addr ~= '' then
    local wait = bucket_take(p .. 'ab:' .. addr, rate, tonumber(args[10]), now)
    if wait > 0 then return { 'rate_limited', wait } end
  end
  local id = redis.call('HINCRBY', mk, 'seq', 1)
  redis.call('XADD', sk, 'MAXLEN', '~', retention, S(id) .. '-0', 'u', user, 't', text, 'ts', S(now), 'o', node, 'q', req)
  if dkey ~= '' then
    local gen = math.floor(id / window)
    redis.call('HSET', dk .. S(gen), dkey, S(id))
    if id % window == 0 then
      redis.call('DEL', dk .. S(gen - 2))
      redis.call('EXPIRE', dk .. S(gen), 86400)
    end
  end
  redis.call('PUBLISH', p .. 'r:' .. room,
    'm\n' .. S(id) .. '\n' .. S(now) .. '\n' .. node .. '\n' .. req .. '\n' .. S(#user) .. '\n' .. user .. text)
  return { 'ok', id, now }
end

-- chatd_sync P room: what a node needs when it starts delivering a room:
-- {last id, presence version, first retained id (0: none), {N\0F, display, ...}}.
local function sync(keys, args)
  local p, room = args[1], args[2]
  local m = redis.call('HMGET', rkey(p, 'm', room), 'seq', 'pv')
  local first = redis.call('XRANGE', rkey(p, 's', room), '-', '+', 'COUNT', 1)
  local first_id = 0
  if #first > 0 then first_id = tonumber(string.match(first[1][1], '^(%d+)')) end
  return { tonumber(m[1]) or 0, tonumber(m[2]) or 0, first_id, redis.call('HGETALL', rkey(p, 'pm', room)) }
end

-- chatd_range P room after upto limit newest: messages with after < id <=
-- upto (upto 0: no bound), at most limit: the oldest ones, or with newest=1
-- the newest ones. Returns {last id, first retained id, {id, ts, username,
-- text, node, req, ...} oldest first, more (1 when more matched than limit)}.
local function range(keys, args)
  local p, room, after, upto, limit, newest = args[1], args[2], tonumber(args[3]), tonumber(args[4]), tonumber(args[5]), args[6] == '1'
  local sk = rkey(p, 's', room)
  local seq = tonumber(redis.call('HGET', rkey(p, 'm', room), 'seq')) or 0
  local first = redis.call('XRANGE', sk, '-', '+', 'COUNT', 1)
  local first_id = 0
  if #first > 0 then first_id = tonumber(string.match(first[1][1], '^(%d+)')) end
  local hi = '+'
  if upto > 0 then hi = S(upto) .. '-0' end
  local lo = '(' .. S(after) .. '-0'
  local e
  if newest then
    e = redis.call('XREVRANGE', sk, hi, lo, 'COUNT', limit + 1)
  else
    e = redis.call('XRANGE', sk, lo, hi, 'COUNT', limit + 1)
  end
  local more = 0
  if #e > limit then more = 1; e[#e] = nil end
  local out, n = {}, #e
  for j = 1, n do
    local x = e[j]
    if newest then x = e[n + 1 - j] end
    local f, m = x[2], {}
    for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
    out[#out + 1] = tonumber(string.match(x[1], '^(%d+)'))
    out[#out + 1] = tonumber(m.ts)
    out[#out + 1] = m.u
    out[#out + 1] = m.t
    out[#out + 1] = m.o or ''
    out[#out + 1] = m.q or '0'
  end
  return { seq, first_id, out, more }
end

-- chatd_presence P N op fold display old_fold room...: N's presence in the
-- rooms: op 'j' (present), 'l' (gone), 'r' (renamed from old_fold).
local function presence(keys, args)
  local p, node, op, fold, display, old = args[1], args[2], args[3], args[4], args[5], args[6]
  if not alive(p, node) then return { 'fenced' } end
  for i = 7, #args do
    local room = args[i]
    if op == 'j' then presence_add(p, room, node, fold, display)
    elseif op == 'l' then presence_remove(p, room, node, fold)
    else presence_rename(p, room, node, old, fold, display) end
  end
  return { 'ok' }
end

-- chatd_resync P N {room, fold, display}...: after a reconnect, make N's
-- presence exactly the given entries (leaves that happened while Redis was
-- out of reach go out now).
local function resync(keys, args)
  local p, node = args[1], args[2]
  if not alive(p, node) then return { 'fenced' } end
  local want = {}
  for i = 3, #args, 3 do want[args[i] .. '\0' .. args[i + 1]] = args[i + 2] end
  for _, e in ipairs(redis.call('SMEMBERS', p .. 'np:' .. node)) do
    if not want[e] then
      local room, fold = split0(e)
      presence_remove(p, room, node, fold)
    end
  end
  for i = 3, #args, 3 do presence_add(p, args[i], node, args[i + 1], args[i + 2]) end
  return { 'ok' }
end

-- chatd_claim P N owner old_fold {fold, display}...: give the first candidate
-- that is free or already the owner's (a session's tabs share a name) to
-- owner on N, releasing old_fold (may be empty). Returns {'ok', index (0
-- based), the name's spelling (the owner's own when it already had it)},
-- {'taken'} or {'fenced'}.
local function claim(keys, args)
  local p, node, owner, old = args[1], args[2], args[3], args[4]
  if not alive(p, node) then return { 'fenced' } end
  for i = 5, #args, 2 do
    local fold, display = args[i], args[i + 1]
    local key = p .. 'nk:' .. fold
    local o = redis.call('HGET', key, 'o')
    if not o or o == owner then
      if fold ~= old then
        if not o then redis.call('HSET', key, 'o', owner, 'd', display) end
        redis.call('HINCRBY', key, '@' .. node, 1)
        redis.call('SADD', p .. 'nn:' .. node, fold)
        if old ~= '' then name_release(p, node, old) end
      else
        redis.call('HSET', key, 'd', display)
      end
      return { 'ok', (i - 5) / 2, redis.call('HGET', key, 'd') }
    end
  end
  return { 'taken' }
end

-- chatd_release P N fold: one of N's connections no longer holds fold.
local function release(keys, args)
  local p, node, fold = args[1], args[2], args[3]
  if not alive(p, node) then return { 'fenced' } end
  name_release(p, node, fold)
  return { 'ok' }
end

-- chatd_names_resync P N {fold, owner, display, count}...: after a
-- reconnect, make N's names exactly these (a name taken meanwhile by another
-- owner is reported back: {'ok', {fold...}} lists the lost ones).
local function names_resync(keys, args)
  local p, node = args[1], args[2]
  if not alive(p, node) then return { 'fenced' } end
  local want, lost = {}, {}
  for i = 3, #args, 4 do want[args[i]] = true end
  for _, fold in ipairs(redis.call('SMEMBERS', p .. 'nn:' .. node)) do
    if not want[fold] then name_drop(p, node, fold) end
  end
  for i = 3, #args, 4 do
    local fold, owner, display, count = args[i], args[i + 1], args[i + 2], args[i + 3]
    local key = p .. 'nk:' .. fold
    local o = redis.call('HGET', key, 'o')
    if o and o ~= owner then
      lost[#lost + 1] = fold
    else
      redis.call('HSET', key, 'o', owner, 'd', display, '@' .. node, count)
      redis.call('SADD', p .. 'nn:' .. node, fold)
    end
  end
  return { 'ok', lost }
end

-- chatd_dm P N to_fold from_fold from text: a private message from the
-- holder of from_fold to whoever holds the name to_fold. It gets the next id
-- of the cluster's one counter and goes to every node but N where either
-- name is held (the receiver's connections, the sender's other tabs):
-- "d\n<id>\n<ts>\n<to_fold>\n<from_fold>\n<#from>\n<#display>\n<from><display><text>"
-- on those nodes' channels; N delivers its share from the answer
-- {'ok', display name, id, ts}. {'none'} when nobody holds to_fold.
local function holders(p, fold, into, seen)
  local h = redis.call('HGETALL', p .. 'nk:' .. fold)
  local display, any = nil, false
  for i = 1, #h, 2 do
    if h[i] == 'd' then display = h[i + 1] end
    if string.sub(h[i], 1, 1) == '@' and tonumber(h[i + 1]) > 0 then
      any = true
      local n = string.sub(h[i], 2)
      if not seen[n] then
        seen[n] = true
        into[#into + 1] = n
      end
    end
  end
  return display, any
end

local function dm(keys, args)
  local p, node, fold, from_fold, from, text = args[1], args[2], args[3], args[4], args[5], args[6]
  if not alive(p, node) then return { 'fenced' } end
  local targets, seen = {}, { [node] = true }
  local display, any = holders(p, fold, targets, seen)
  if not any then return { 'none' } end
  display = display or fold
  holders(p, from_fold, targets, seen)
  local id = redis.call('INCR', p .. 'dmseq')
  local now = now_ms()
  local payload = 'd\n' .. S(id) .. '\n' .. S(now) .. '\n' .. fold .. '\n' .. from_fold .. '\n' .. S(#from) .. '\n' ..
    S(#display) .. '\n' .. from .. display .. text
  for _, n in ipairs(targets) do redis.call('PUBLISH', p .. 'n:' .. n, payload) end
  return { 'ok', display, id, now }
end

-- chatd_rooms P max: the rooms with people on any node, biggest first:
-- {room, people, room, people, ...} (at most max rooms).
local function rooms(keys, args)
  return redis.call('ZREVRANGE', args[1] .. 'rl', 0, tonumber(args[2]) - 1, 'WITHSCORES')
end

local function version() return VERSION end

redis.register_function('chatd_version', version)
redis.register_function('chatd_hello', hello)
redis.register_function('chatd_beat', beat)
redis.register_function('chatd_bye', bye)
redis.register_function('chatd_publish', publish)
redis.register_function{ function_name = 'chatd_sync', callback = sync, flags = { 'no-writes' } }
redis.register_function{ function_name = 'chatd_range', callback = range, flags = { 'no-writes' } }
redis.register_function('chatd_presence', presence)
redis.register_function('chatd_resync', resync)
redis.register_function('chatd_claim', claim)
redis.register_function('chatd_release', release)
redis.register_function('chatd_names_resync', names_resync)
redis.register_function('chatd_dm', dm)
redis.register_function{ function_name = 'chatd_rooms', callback = rooms, flags = { 'no-writes' } }
