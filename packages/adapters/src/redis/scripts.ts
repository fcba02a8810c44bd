/**
 * Lua scripts: each runs atomically on the server, so a token check and the write it guards
 * can never be split by another client. Every key of one election shares the `{election}`
 * hash tag, so the scripts also run on Redis Cluster.
 *
 * Keys per election: lease (string: token, SET NX PX), info (hash: holder, term, metadata;
 * same TTL), term (counter, no TTL), server (run id of the server that last wrote the
 * election: no TTL), members (hash id → record), members:expiry (zset) and reserved (a
 * transfer's reservation, JSON {successor, from}, PX the reservation's time; see HAND_OVER).
 * Per namespace: incarnation (run id and the server time it was first seen; see
 * INCARNATION).
 */

/** Server time in microseconds. TIME is allowed in scripts since Redis 5 (effects replication). */
const NOW_MICROS = `
local clock = redis.call('TIME')
local nowMicros = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
`;

/**
 * The run id of the server process running the script: a new one after every restart, and
 * a different one after a failover to a replica. It tells whether the server that wrote an
 * election's state is the one answering now.
 */
const RUN_ID = `
local runId = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
`;

/**
 * ACQUIRE's logic as a Lua function, shared by ACQUIRE and CLAIM_MANY so that a claim in a
 * batch is judged by the very code a single claim is (the `runId` of RUN_ID in scope).
 * `claim(lease, info, term, server, reserved, token, ttlMs, holder, metadataJson)` returns
 * ACQUIRE's reply (below).
 *
 * The reservation check comes first: while the lock is free and reserved by a transfer,
 * anyone but its successor and the holder that handed over is refused with the
 * reservation's remaining time. A value that is not a reservation (not leasehold's)
 * reserves nothing.
 */
const CLAIM_ONE = `
local function claim(lease, info, term, server, reserved, token, ttl, holder, metadata)
  local stored = not redis.call('GET', lease) and redis.call('GET', reserved)
  if stored then
    local ok, reservation = pcall(cjson.decode, stored)
    if ok and type(reservation) == 'table' and type(reservation.successor) == 'string'
      and reservation.successor ~= holder and reservation.from ~= holder then
      return {0, false, false, false, redis.call('PTTL', reserved), reservation.successor}
    end
  end
  if not redis.call('SET', lease, token, 'NX', 'PX', ttl) then
    local pttl = redis.call('PTTL', lease)
    if redis.call('GET', server) ~= runId then return {0, false, false, false, pttl} end
    local fields = redis.call('HMGET', info, 'holder', 'term', 'metadata')
    return {0, fields[1], fields[2], fields[3], pttl}
  end
  ${NOW_MICROS}
  local previous = redis.call('GET', term)
  local mayHaveLost = (not previous) or redis.call('GET', server) ~= runId
  local newTerm = nowMicros
  if previous and tonumber(previous) + 1 > newTerm then newTerm = tonumber(previous) + 1 end
  redis.call('SET', term, string.format('%.0f', newTerm))
  redis.call('SET', server, runId)
  redis.call('HSET', info, 'holder', holder, 'term', string.format('%.0f', newTerm), 'metadata', metadata)
  redis.call('PEXPIRE', info, ttl)
  -- Only when there is one: a claim must need no DEL right (a role allowed to claim but not
  -- to release, as the resign test's, still claims).
  if redis.call('GET', reserved) then redis.call('DEL', reserved) end
  return {1, string.format('%.0f', newTerm), mayHaveLost and 1 or 0, runId}
end
`;

/**
 * KEYS: lease, info, term, server, reserved. ARGV: token, ttlMs, holder, metadataJson.
 * Returns {1, term, mayHaveLost, runId}, {0, holder|false, term|false, metadata|false, pttl},
 * or, while a transfer's reservation keeps a free lock for someone else,
 * {0, false, false, false, reservation pttl, successor}.
 *
 * The term is max(counter + 1, server time in µs): it keeps rising even after Redis lost
 * the counter (restart without persistence, FLUSHALL, failover to a stale replica), because
 * time moved on. The election's state may be stale (Redis may have forgotten a live holder)
 * when the counter is missing, or when another server (another run id: a restart from an
 * older snapshot, a failover to a replica that missed the last acquire) wrote it last; the
 * caller then asks INCARNATION how long to wait before it reports leadership.
 *
 * A lease that another server wrote last is unconfirmed: this server may have missed its
 * release (a failover to a replica that did not get it), so the refusal names no holder
 * until the holder renews here (RENEW records this server) or the lease runs out. A live
 * holder renews within its renew interval; one that released never will, and is not
 * reported as the leader again with its lower term.
 *
 * A reservation is checked in the same script as the claim, so nobody else can slip in
 * between; a granted claim consumes it. It decides only who may claim: a claim it admits
 * is an ordinary one, so the data-loss rules above (mayHaveLost) apply to it unchanged.
 */
export const ACQUIRE = `
${RUN_ID}
${CLAIM_ONE}
return claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`;

/**
 * `incarnation(key)`, the key the namespace's (see INCARNATION), `runId` in scope: returns
 * {ageMs, runId}, how long this server process has been known to the namespace, recording
 * it now if it is new. Shared by INCARNATION and CLAIM_MANY.
 *
 * Whatever made an election's state stale (a restart, a failover, FLUSHALL) happened
 * before this server first answered for the namespace, so every holder it may have
 * forgotten had its deadline within one TTL of that moment: a new holder waits out what is
 * left of that TTL. A namespace this server has served for longer loses nothing by a
 * never-used election, and its first holder need not wait at all.
 */
const INCARNATION_ONE = `
local function incarnation(key)
  ${NOW_MICROS}
  local nowMs = math.floor(nowMicros / 1000)
  local seen = redis.call('GET', key)
  if seen then
    local seenId, since = string.match(seen, '^(%x+):(%d+)$')
    if seenId == runId then return {nowMs - tonumber(since), runId} end
  end
  redis.call('SET', key, runId .. ':' .. string.format('%.0f', nowMs))
  return {0, runId}
end
`;

/** KEYS: incarnation (one per namespace); no ARGV. Returns incarnation()'s reply. */
export const INCARNATION = `
${RUN_ID}
${INCARNATION_ONE}
return incarnation(KEYS[1])
`;

/**
 * KEYS: lease, info, server. ARGV: token, ttlMs. Returns 1 when renewed. Records the
 * server that renewed: after a failover to a replica that had the lease, the election is
 * this server's from then on.
 */
export const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
${RUN_ID}
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], runId)
return 1
`;

/**
 * KEYS: lease, info, channel, members, expiry. ARGV: token, election, holder, woken.
 * Returns 1 when released.
 *
 * The message names the election, then (one per line) the first `woken` live members other
 * than the releaser, in core's candidate order: by the order key each record carries
 * (`candidateOrderKey`), compared byte by byte, since Lua's `<` on strings follows the
 * server's locale. A record written before sidecars kept the key goes after every keyed
 * one. Only their watchers wake; a message without ids wakes everyone. The first `woken`
 * are picked by a scan each, not a sort: a release costs O(members).
 */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
${NOW_MICROS}
local nowMs = math.floor(nowMicros / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. nowMs, '+inf')
local line = {}
if #live > 0 then
  for _, text in ipairs(redis.call('HMGET', KEYS[4], unpack(live))) do
    local ok, record = pcall(cjson.decode, text)
    if ok and type(record) == 'table' and type(record.id) == 'string' and record.id ~= ARGV[3] then
      local keyed = type(record.orderKey) == 'string'
      table.insert(line, { id = record.id, keyed = keyed, key = keyed and record.orderKey or record.id })
    end
  end
end
local function bytewiseBefore(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function before(a, b)
  if a.keyed ~= b.keyed then return a.keyed end
  return bytewiseBefore(a.key, b.key)
end
local message = ARGV[2]
for _ = 1, math.min(#line, tonumber(ARGV[4])) do
  local first = 1
  for i = 2, #line do if before(line[i], line[first]) then first = i end end
  message = message .. '\\n' .. line[first].id
  table.remove(line, first)
end
redis.call('PUBLISH', KEYS[3], message)
return 1
`;

/**
 * KEYS: lease, info, channel, reserved. ARGV: token, election, successor, from,
 * reservationMs. Returns 1 when handed over, 0 (having written nothing) when the token no
 * longer holds the lease.
 *
 * A release and a reservation in one step (docs/design.md §3.6): nobody can claim between
 * them. The release is as clean as RELEASE's (the term counter and the server key stay, so
 * the next claim on this server waits for nothing); the reservation expires by this
 * server's clock (PX). The wake-up names the successor alone: it is the only one (with the
 * holder that handed over) who may claim, so waking the first in line would only earn
 * them a refusal.
 */
export const HAND_OVER = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[4], cjson.encode({successor = ARGV[3], from = ARGV[4]}), 'PX', ARGV[5])
redis.call('PUBLISH', KEYS[3], ARGV[2] .. '\\n' .. ARGV[3])
return 1
`;

/** KEYS: reserved. Returns {reservationJson, pttl}, or {} when there is none. */
export const RESERVATION = `
local stored = redis.call('GET', KEYS[1])
if not stored then return {} end
return {stored, redis.call('PTTL', KEYS[1])}
`;

/**
 * KEYS: lease, info, server. Returns {holder, term, metadata, pttl}, {} when free, or
 * {false, false, false, pttl} while the lease is unconfirmed (see ACQUIRE).
 */
export const READ = `
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then return {} end
${RUN_ID}
if redis.call('GET', KEYS[3]) ~= runId then return {false, false, false, pttl} end
local info = redis.call('HMGET', KEYS[2], 'holder', 'term', 'metadata')
return {info[1], info[2], info[3], pttl}
`;

/** KEYS: members, expiry. ARGV: id, recordJson, ttlMs. */
export const PUT_MEMBER = `
${NOW_MICROS}
local nowMs = math.floor(nowMicros / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', nowMs)
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[1], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], nowMs + tonumber(ARGV[3]), ARGV[1])
return 1
`;

/** KEYS: members, expiry. Returns the live records. */
export const LIST_MEMBERS = `
${NOW_MICROS}
local nowMs = math.floor(nowMicros / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. nowMs, '+inf')
if #live == 0 then return {} end
return redis.call('HMGET', KEYS[1], unpack(live))
`;

/** KEYS: members, expiry. ARGV: id. */
export const REMOVE_MEMBER = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

/**
 * The loop bodies the batch scripts share (RENEW_MANY and BEAT, READ_MANY and BEAT,
 * PUT_MEMBERS and BEAT), on the loop's locals. RENEW_ONE: lease, info, server, token, ttl,
 * runId; sets renewed[i] to 1 (renewed, as RENEW) or 0 (lost).
 */
const RENEW_ONE = `
  if redis.call('GET', lease) == token then
    redis.call('PEXPIRE', lease, ttl)
    redis.call('PEXPIRE', info, ttl)
    redis.call('SET', server, runId)
    renewed[i] = 1
  else
    renewed[i] = 0
  end
`;

/** READ's reply for lease, info, server into records[i] (runId as in READ). */
const READ_ONE = `
  local pttl = redis.call('PTTL', lease)
  if pttl < 0 then
    records[i] = {}
  elseif redis.call('GET', server) ~= runId then
    records[i] = {false, false, false, pttl}
  else
    local fields = redis.call('HMGET', info, 'holder', 'term', 'metadata')
    records[i] = {fields[1], fields[2], fields[3], pttl}
  end
`;

/** PUT_MEMBER then LIST_MEMBERS for members, expiry, id, record, ttl at nowMs into lists[i]. */
const PUT_ONE = `
  local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', nowMs)
  for _, gone in ipairs(expired) do redis.call('HDEL', members, gone) end
  redis.call('ZREMRANGEBYSCORE', expiry, '-inf', nowMs)
  redis.call('HSET', members, id, record)
  redis.call('ZADD', expiry, nowMs + tonumber(ttl), id)
  local live = redis.call('ZRANGEBYSCORE', expiry, '(' .. nowMs, '+inf')
  lists[i] = #live == 0 and {} or redis.call('HMGET', members, unpack(live))
`;

/**
 * RENEW for many elections at once (LeaseStore.batch, docs/design.md §3.8). KEYS: lease,
 * info, server of each election in turn. ARGV: token, ttlMs of each in the same order.
 * Returns one 1 (renewed) or 0 (lost) per election: each judged as RENEW judges it. The
 * keys span slots, so it runs on one server only (not on a Cluster).
 */
export const RENEW_MANY = `
${RUN_ID}
local renewed = {}
for i = 1, #ARGV / 2 do
  local lease, info, server = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local token, ttl = ARGV[2 * i - 1], ARGV[2 * i]
${RENEW_ONE}
end
return renewed
`;

/**
 * READ for many elections at once (LeaseStore.batch.readMany, docs/design.md §3.8): the
 * followers of a sidecar read every election they follow in one call instead of claiming
 * each. KEYS: lease, info, server of each election in turn. Returns, per election, READ's
 * reply. Writes nothing. One server only, as RENEW_MANY.
 */
export const READ_MANY = `
${RUN_ID}
local records = {}
for i = 1, #KEYS / 3 do
  local lease, info, server = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
${READ_ONE}
end
return records
`;

/**
 * PUT_MEMBER then LIST_MEMBERS for many elections at once (LeaseStore.batch.putMembers).
 * KEYS: members, expiry of each election in turn. ARGV: id, recordJson, ttlMs of each in
 * the same order. Returns, per election, its live records. One server only, as RENEW_MANY.
 */
export const PUT_MEMBERS = `
${NOW_MICROS}
local nowMs = math.floor(nowMicros / 1000)
local lists = {}
for i = 1, #KEYS / 2 do
  local members, expiry = KEYS[2 * i - 1], KEYS[2 * i]
  local id, record, ttl = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
${PUT_ONE}
end
return lists
`;

/**
 * One tick of a sidecar's shared heartbeat (LeaseStore.batch.beat, docs/design.md §3.8):
 * RENEW_MANY, PUT_MEMBERS and READ_MANY in ONE call, each part exactly as its script does
 * it. ARGV[1..3]: how many renewals, member records and reads. KEYS: lease, info, server
 * of each renewal; members, expiry of each record; lease, info, server of each read, in
 * turn. ARGV from 4: token, ttlMs of each renewal, then id, recordJson, ttlMs of each
 * record. Returns {renewed, lists, records} as the three scripts return them. Renewals go
 * first, so a read of an election this sidecar renews sees the renewal. One server only.
 */
export const BEAT = `
${RUN_ID}
${NOW_MICROS}
local nowMs = math.floor(nowMicros / 1000)
local nRenew, nPut, nRead = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local renewed = {}
for i = 1, nRenew do
  local lease, info, server = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local token, ttl = ARGV[3 + 2 * i - 1], ARGV[3 + 2 * i]
${RENEW_ONE}
end
local k, a = 3 * nRenew, 3 + 2 * nRenew
local lists = {}
for i = 1, nPut do
  local members, expiry = KEYS[k + 2 * i - 1], KEYS[k + 2 * i]
  local id, record, ttl = ARGV[a + 3 * i - 2], ARGV[a + 3 * i - 1], ARGV[a + 3 * i]
${PUT_ONE}
end
k = k + 2 * nPut
local records = {}
for i = 1, nRead do
  local lease, info, server = KEYS[k + 3 * i - 2], KEYS[k + 3 * i - 1], KEYS[k + 3 * i]
${READ_ONE}
end
return {renewed, lists, records}
`;

/**
 * ACQUIRE for many elections at once (LeaseStore.batch.claimMany, docs/design.md §3.8): a
 * follower claims every election whose leader's leases ran out together in one call. KEYS:
 * lease, info, term, server, reserved of each election in turn, then the namespace's
 * incarnation key. ARGV: token, ttlMs, holder, metadataJson of each, in the same order.
 * Each claim runs ACQUIRE's own function, in the order given, so each is judged exactly as
 * ACQUIRE alone would judge it at that moment. Returns {replies, incarnation}: ACQUIRE's
 * reply per election, and INCARNATION's reply when a granted claim may have found stale
 * state (false otherwise), read in the same call as the claims, where a single claim asks
 * it right after: its age is no larger, so its wait is no shorter. One server only (the
 * keys span slots), as RENEW_MANY.
 */
export const CLAIM_MANY = `
${RUN_ID}
${CLAIM_ONE}
${INCARNATION_ONE}
local replies = {}
local stale = false
for i = 1, #ARGV / 4 do
  local k, a = 5 * i - 5, 4 * i - 4
  replies[i] = claim(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5],
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
  if replies[i][1] == 1 and replies[i][3] == 1 then stale = true end
end
return {replies, stale and incarnation(KEYS[#KEYS]) or false}
`;
