//! The Lua scripts: each runs atomically on the one node that holds the prefix's hash slot.
//!
//! Limit counter `{p}:l:<limit>:<key>`: a sorted set of the latest `max` admissions, scored by
//! their clock time (members are unique sequence numbers from `{p}:seq`). Grants of an action
//! hash `{p}:g:<hash>`: a hash from grant id to `"<expires>:<uses left>"`.
use redis::Script;
use std::sync::LazyLock;

/// KEYS: seq, grant, limit counters...; ARGV: now, grace, wants grant, then max and window per
/// limit. Returns `{0}` no valid grant, `{2, first (1-based), retry_after_ms}` exhausted, `{1}`
/// admitted (and one use of the grant consumed).
pub(crate) static DECIDE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[2])
local grant_field, grant_exp, grant_uses = nil, nil, nil
if ARGV[3] == '1' then
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    local e, u = string.match(all[i + 1], '^(-?%d+):(%d+)$')
    e = tonumber(e)
    u = tonumber(u)
    if e and u and u > 0 and now < e and (grant_exp == nil or e < grant_exp) then
      grant_field, grant_exp, grant_uses = all[i], e, u
    end
  end
  if grant_field == nil then
    return {0}
  end
end
local first, retry = 0, 0
for i = 3, #KEYS do
  local max = tonumber(ARGV[2 * i - 2])
  local window = tonumber(ARGV[2 * i - 1])
  if redis.call('ZCARD', KEYS[i]) >= max then
    local oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
    if oldest > now - window then
      local wait = math.max(oldest + window - now, 1)
      if first == 0 then first = i - 2 end
      if wait > retry then retry = wait end
    end
  end
end
if first > 0 then
  return {2, first, retry}
end
for i = 3, #KEYS do
  local max = tonumber(ARGV[2 * i - 2])
  local window = tonumber(ARGV[2 * i - 1])
  local seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[i], ARGV[1], seq)
  local n = redis.call('ZCARD', KEYS[i])
  if n > max then
    redis.call('ZREMRANGEBYRANK', KEYS[i], 0, n - max - 1)
  end
  local newest = tonumber(redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')[2])
  local ttl = window + math.max(newest - now, 0) + grace
  ttl = math.min(ttl, 1e15)
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], string.format('%d', ttl))
  end
end
if grant_field then
  if grant_uses <= 1 then
    redis.call('HDEL', KEYS[2], grant_field)
  else
    redis.call('HSET', KEYS[2], grant_field, string.format('%d:%d', grant_exp, grant_uses - 1))
  end
end
return {1}
"#,
    )
});

/// KEYS: seq, grant; ARGV: now, ttl_ms, uses, grace. Adds one grant; drops spent and expired
/// ones of the same hash; the key lives until its last grant expires (plus grace).
pub(crate) static GRANT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local ttl = math.min(tonumber(ARGV[2]), 1e15)
local grace = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local e, u = string.match(all[i + 1], '^(-?%d+):(%d+)$')
  if not e or tonumber(e) <= now or tonumber(u) < 1 then
    redis.call('HDEL', KEYS[2], all[i])
  end
end
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, string.format('%d:%d', now + ttl, tonumber(ARGV[3])))
local keep = ttl + grace
if redis.call('PTTL', KEYS[2]) < keep then
  redis.call('PEXPIRE', KEYS[2], string.format('%d', keep))
end
return 1
"#,
    )
});
