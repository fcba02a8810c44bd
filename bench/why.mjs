// What RESULTS.md says about a missed target (keyed `target:backend`, or `target` for every
// backend), and the notes at its end. Written from the measurements; report.mjs picks them.
const ETCD_HANDOFF =
  'a graceful handoff on etcd is two Raft writes one after the other, each waiting for etcd to ' +
  'fsync its log: the release (a token-guarded delete of the leader key) and the next in ' +
  'line’s claim (a txn on its member lease, with a keep-alive sent alongside), with a watch ' +
  'event between them. The claim no longer waits for a lease grant (a third write before the ' +
  'queue-ordered campaign). The etcd3 Election’s successor needs no write at all: its key ' +
  'already waits in the queue and leads once the key before it goes. leasehold keeps a leader ' +
  'key of its own (token-guarded, its create revision the term) so that read() and sidecars of ' +
  'earlier versions keep working; making the queue key itself the lock would save the claim’s ' +
  'write.';

const COLD =
  'Most of a start-up is loading JavaScript, and on this shared 2-core machine that swings with ' +
  'the other processes: compare the “Node alone” row, which is Node starting and doing ' +
  'nothing. The sidecar now loads only the driver its store URL needs, no YAML library ' +
  'without --config, and no Fastify until a request needs it (apps, probes and Prometheus ' +
  'never do).';

/** Why an unhealthy leader's handover can pass interval × failures + one graceful handoff. */
const UNHEALTHY =
  'the verdict comes one to two intervals after the app starts failing (the first failed ' +
  'check up to one interval later, then two confirming checks half an interval apart: ' +
  'docs/design.md §3.6), which leaves about half an interval for the transfer; a round ' +
  'over the bound had a transfer slower than that, as the transfer row’s p95 can be under ' +
  'load, or a first attempt that failed and was retried after the back-off (the longer of ' +
  'the minimum tenure and the TTL). Before the confirming checks (whole intervals) the ' +
  'verdict alone took two to three intervals and PostgreSQL, etcd and ZooKeeper missed by ' +
  '5-27 ms.';

const STEERING = {
  'transfer:etcd':
    'a transfer on etcd is three Raft writes, each waiting for etcd to fsync its log: the ' +
    'grant of the reservation’s own lease, the hand-over txn (delete the leader key, put the ' +
    'reservation), and the successor’s claim txn (which deletes the reservation); a graceful ' +
    'handoff is two (release, claim), as the adapter describes it (not profiled). Granting the reservation’s lease before the hand-over is ' +
    'asked, or keeping one granted per candidate, would save a write.',
  'transfer:zk':
    'a transfer on ZooKeeper is two multi-ops, each a quorum write: the hand-over (check and ' +
    'delete the holder’s znode, create the reservation) and the successor’s claim (delete the ' +
    'reservation at its version, create its holder znode); the graceful handoff’s successor ' +
    'already waits in the queue and needs one write once the znode before it goes. Under ' +
    'load the ratio swings past 2: two runs at 05:13 and 05:16 on 2026-12-07 (load 3-8, ' +
    '6.5-9.3) measured 38.0 and 87.1 ms against graceful 17.6 and 24.7 ms, while ' +
    'bench/transfer.mjs (one process, load 10) measured p50 11.7-47.5 ms, and 24.4-44.3 ms ' +
    'with the adapter before h1-zk’s changes: the steering pool’s processes waking under ' +
    'load, not a slower adapter.',
};
for (const backend of ['redis', 'postgres', 'etcd', 'zk', 'sqlite']) {
  STEERING[`unhealthy:${backend}`] = UNHEALTHY;
}

export const explanations = {
  ...STEERING,
  'handoff:etcd': ETCD_HANDOFF,
  'crowd:etcd': ETCD_HANDOFF,
  crowd:
    'a handoff among 50 wakes the first two in line only (the attempts row counts every acquire ' +
    'in the handoff window, polls of the other 48 included), but the 50 electors share two ' +
    'cores with their own polls (one per second each) and heartbeats, and with the other ' +
    'benchmark and test processes on this machine.',
  'handoff:postgres':
    'the release commits the released row, then unlocks and notifies in one more round trip; ' +
    'the notification reaches the first in line over its listening connection, and its claim ' +
    'is one statement and a commit. Three commits’ worth of round trips to a PostgreSQL server ' +
    'that the other engineers’ tests share, on a loaded machine: the quick run earlier the same ' +
    'day, at a lower load, measured 8.9 ms.',
  'handoff:sqlite':
    'SQLite runs with synchronous=FULL (a term written before a power cut must survive it), so ' +
    'the release and the claim are two transactions that each wait for an fsync of the WAL on ' +
    'this VM’s disk, shared with every other engineer’s tests; the OS notification between ' +
    'them costs well under a millisecond.',
  'crowd:sqlite':
    'fifty connections to one SQLite file: every heartbeat is an fsync’d transaction that the ' +
    'handoff’s two transactions queue behind, on a disk the whole machine shares.',
  handoff:
    'one release and one claim, each a round trip to the store; on this loaded machine a round ' +
    'trip and a process wake-up often take several milliseconds.',
  'cold:etcd':
    'the etcd client alone (etcd3: gRPC and protobufjs, which builds etcd’s service definitions ' +
    'when it loads) takes 200-250 ms to load on this machine before the first request. A ' +
    'precompiled descriptor does not help (protobufjs fromJSON 57-80 ms against 57-63 ms to ' +
    'parse the .proto files); the bundled command starts it faster (see the notes). ' +
    COLD,
  'cold:redis': 'ioredis takes about 100 ms of it to load. ' + COLD,
  http:
    'GET /v1/leader and /v1/is-leader are now serialised once per change of what they say ' +
    '(answers.ts, LeaderWire: each request compares one status snapshot with the cached ' +
    'one and writes leaseRemainingMs between two cached halves): building and serialising ' +
    'the answer went from 3.6-4.8 µs to 0.14-0.18 µs a request, about what status() alone ' +
    'costs (in one process, a million answers, 14:23 UTC, load 12-13). Three runs of bare, ' +
    'this build and main’s build interleaved (`--compare-bin`, 13:58-14:22 UTC, load ' +
    '10.9-22.4; the table is the middle one): server CPU per request 64.6 / 83.4 / 54.0 µs ' +
    'against main’s 76.2 / 90.7 / 69.7 and bare’s 40.9 / 61.9 / 44.4 (1.22-1.58× bare, main ' +
    '1.47-1.86×); throughput 0.80 / 0.78 / 0.85× bare (main 0.78 / 0.88 / 0.75×); p99 99 / ' +
    '72 / 72 ms against bare’s 67 / 60 / 61. An earlier run without main (13:43, load ' +
    '8.5-12.2): 0.80×, p99 42 against 43 ms, 46.1 against 38.6 µs. At this load every ' +
    'server did 2,300-10,000 req/s instead of the 38,000-53,000 of a quiet machine: the ' +
    'load generator’s core is shared with the other engineers’ runs, so throughput and p99 ' +
    'swing between rounds more than between builds (main came out ahead of this build in ' +
    'one run), and only CPU per request separates them. Where the rest goes (a CPU profile ' +
    'of the sidecar flat out, 14:18, load 8.4-10.1): node:http’s own path, the same as ' +
    'bare’s (parsing, the writev of head and body with the end of the response, its ' +
    'nextTick callbacks, socket timeouts), over 70 % of the samples; the garbage collector ' +
    '11 %; leasehold’s own code 5 % (the fast path, route lookup, the cached answer, ' +
    'status()); ioredis’s renewals 1.4 %. The sidecar’s two request listeners (the ' +
    'connection limits’ and the API’s) are one emit with two listeners where bare has one. ' +
    'On a quiet machine before this change (11:14 UTC): 17.1-18.5 µs against bare’s ' +
    '12.7-13.3 µs, about a tenth of it building the answer.',
  cold: COLD,
  'rss:etcd':
    'gRPC and protobufjs, with etcd’s compiled service definitions, stay resident: about 10 MB ' +
    'more than the Redis or PostgreSQL drivers. Everything else the sidecar does not need when ' +
    'idle is no longer loaded.',
  rss: 'see the settling column: the heap is still shrinking after the settle time on a loaded machine.',
  cpu:
    'an idle leader renews every TTL / 3 and heartbeats its member record as often; on this ' +
    'machine each wake-up costs more than on a quiet one.',
  overlap:
    'the cut or frozen leader answered “leader” after another had been elected: see the rows ' +
    'above for which implementation and for how long.',
  /** Under the many-elections table (lib/many-elections-report.mjs): what its runs showed. */
  manyElections: [
    '- **Renewals.** Batched, a thousand leases cost two requests per renew interval on ' +
      'every backend: the heartbeat splits a batch at 500 leases (`maxLeases`), so 1,000 ' +
      'elections are two `renewMany` calls a tick (etcd: 16 txns of 64 leases, each with ' +
      "one keep-alive stream; the figure counts the `renewMany` calls). The issue's target, " +
      '≤ 1 request per renew interval, is met per 500 elections, not per sidecar.',
    '- **Member records** are batched on Redis, PostgreSQL, SQLite and etcd (`putMembers`: ' +
      'two requests a tick on the first three; etcd keeps each record on a lease of its own, ' +
      'kept alive on one stream, and writes 64 records and reads their elections in one txn: ' +
      '16 requests a tick at 1,000). ZooKeeper keeps one node per record and writes them per ' +
      'election: ~1,900 requests per interval remain there, the bulk of its idle traffic.',
    '- **Per lease does not hold.** On one PostgreSQL session, 1,000 elections per lease ' +
      'need ~1,500 statements a second (renewal, member put, member list), more than the ' +
      'serial session answered under this load: renewals timed out and no election stayed ' +
      'led. SQLite per lease kept 871 of 1,000 (its synchronous calls hold the event loop). ' +
      'Batched, both held all 1,000. The first run started all 1,000 at once, which no ' +
      "backend's per-lease mode survived on PostgreSQL or etcd (first acquires timing out " +
      'on one connection and handed back); the bench starts them in waves of 50.',
    '- **etcd batched holds 1,000 since it batches member records too.** Before that, each ' +
      "election's member heartbeat was a keep-alive stream, a put and a range of its own " +
      "(~280 keep-alive streams, ~215 puts and ~260 ranges a second by etcd's " +
      '`grpc_server_started_total`; 615 slow applies in 51 s), and in a 20 s window 998 ' +
      'member puts, 51 `renewMany`, 89 releases and 88 acquires timed out: 0 of 1,000 led. ' +
      'With `putMembers`, and `renewMany` judging each lease in a nested txn (one lost lease ' +
      'no longer sends its 63 neighbours to renew one by one), 1,000 of 1,000 led in two ' +
      'runs with no failed call (loads 7.3 and 6.9). The per-lease rows are older runs.',
    '- **Followers are the next etcd cost (measured, not changed).** A second candidate in ' +
      'the same elections sent 191.5 `tryAcquire` per renew interval at 100 elections and 590 ' +
      "at 300 (each a range and a `leaseTimeToLive`), against the leader's 4 and 10 batched " +
      "calls: every follower polls every election about once a second (core's retry " +
      "interval) although the waiting line's watch wakes it on a release.",
    "- **RSS** differs by tens of MB between runs of the same mode (V8's heap after " +
      'start-up); one run each, so no footprint claim is made from it.',
  ],
  /** Under the three-sidecars table (lib/many-sidecars-report.mjs): what its runs showed. */
  manySidecars: [
    '- **etcd and ZooKeeper measured again (2026-12-08 01:05-01:11 UTC, loads 0.7-3.0), ' +
      "after the week's issue-27 merges.** etcd: all 1,000 led again 4.8-6.7 s after the " +
      'SIGKILL (the row; 4.2-6.9 s in a run before it), where the 08:05 run on 2026-12-07 ' +
      'had 709 of 1,000 within 78 s. But each follower now sends 401-405 claims per renew ' +
      'interval (22-98 in that run), 40-42 % of a core: a watched follower claims once in ' +
      'the second half of each TTL (WATCHED_POLL_TTLS, which bounds what a watch that failed ' +
      'without a sign costs), and etcd has neither batched claims nor batched reads to stand ' +
      "in for them. A `readMany` would have to ask each holder's lease for its TTL (one " +
      '`LeaseTimeToLive` per election) to answer what `read` answers, unless a sidecar ' +
      'holds all its keys on one lease (the sidecar-wide lease, still to do). ZooKeeper: ' +
      'all led again 6.9 s after the SIGKILL (10.2 s in the 21:05 run below, at load 5.3), ' +
      'followers 398-403 calls per renew interval, 22 % of a core. PostgreSQL (5.2 s) and ' +
      'Redis (4.9 s) measured in the same hour as their rows.',
    '- **ZooKeeper member records and followers (changed, issue 27).** Each election wrote ' +
      'and listed its record once per renew interval: ~1,920 member requests per renew ' +
      'interval on the leader and ~1,600 on each follower, whose claims added 1,200-1,300 ' +
      '(20:17 run, load 6.7; 07:48: 1,691 on the leader, load 12). Now `batch.putMembers` ' +
      'rewrites a record only when its content changed (its session keeps it alive) and ' +
      'answers the lists from child and data watches after one leader-ordered barrier, which ' +
      'rides on the renewal multi (docs/design.md §3.8, “Member records on ZooKeeper”): 1-1.2 ' +
      'member calls per renew interval on every sidecar (20:27 run, load 7.5; ' +
      'zookeeper-members.test: no write and one leader-ordered request a tick per store). And ' +
      'a queued follower whose predecessor is watched skips its polls (`watching`), claiming ' +
      'once in the second half of each TTL: 420 acquire calls per renew interval per follower ' +
      '(1,300-1,500 in the 20:27 run), 20-21 % of a core (27-29 %). Saved run 21:05 (load ' +
      '5.3): leader 2.2 calls per renew interval (renew 1.1, member 1.1), CPU 22.1 → 4.4 % of ' +
      'a core, RSS 194 → 137 MB; all 1,000 led again 10.2 s after the SIGKILL (10.2 s before; ' +
      'target 7 s: the session ends on its tick after the 6 s timeout), never two leaders. ' +
      'Without the spread, the once-a-TTL claims of 1,000 elections came in one burst per ' +
      'follower, and one that met the takeover put it at 15.7 and 52.7 s.',
    '- **PostgreSQL claims in batches (changed, issue 27).** On main the first in line ' +
      "claimed the dead leader's 1,000 elections one `tryAcquire` at a time on its one " +
      'session at the expiry, the other follower found the leases free and claimed too, and ' +
      'the claims queued past the 2 s call timeout (late grants are handed back): 20:15 run ' +
      '(load 2.1), first election led again 5.5 s after the SIGKILL, all 10.8 s, 894 and ' +
      '1,183 claims from the two followers; 7.6 s in a 20:13 run (load 2.2); 0, 406 and 651 ' +
      'of 1,000 in three earlier runs. Now one `batch.claimMany` statement claims them, each ' +
      'row judged after its row lock (docs/design.md §3.8): 1-2 acquire requests per follower ' +
      'in the takeover; all 1,000 led again 5.1 s (20:35, load 5.4, the row), 4.9 s (load ' +
      '3.7) and 7.7 s (load 6.7) after the SIGKILL, and 7.3 s in a first run (load 4.6); ' +
      '1-1.1 requests per renew interval at idle, never two leaders. The leases run out 4-6 s ' +
      'after the SIGKILL; a step-by-step probe (rows read from the table, loads 3.7-6.6) had ' +
      "the first claim statement start 0.49-0.55 s after the last lease ran out (the follower's " +
      'last read is answered a beat late: 150 ms a beat on average at 1,000 elections, then ' +
      'the event loop) and the last `elected` 1.1-1.7 s after it, so a SIGKILL just after a ' +
      'renewal still misses TTL + 1 s.',
    '- **Idle cost per election (changed, issue 27).** The tick is one request, but its ' +
      'work is per election; the allocation profile of one sidecar leading 1,000 on Redis ' +
      '(8.5 MB/s) put 13 % in the store calls (four closures and a timer each), 12 % in ' +
      "ioredis's encoding of the 5,000-key BEAT, 12 % in its keys, arguments and member " +
      'JSON, 7 % in parsing the listed records (`delete` made each a dictionary), and on ' +
      'SQLite 2,000 `prepare`s a tick. Now a call is one object and the calls share one ' +
      'time-out timer per millisecond, a member record is serialised whole only when more ' +
      'than its heartbeat time changed and (Redis) parsed again only then, key names are ' +
      'made once, and SQLite prepares its member statements once (docs/design.md §3.8). ' +
      'This build against main, back to back (21:13 and 21:15 UTC, loads 1.0-2.5 at idle): ' +
      'CPU Redis 5.2-5.8 % against 6.3-7.9 %, SQLite 8.1-8.6 % against 9.8-10.4 %; an ' +
      'earlier pair at loads 8-13 (20:46, 20:50, without the parse cache): Redis 7.7-8.6 → ' +
      '6.8-7.0 %, SQLite 12.3-14.2 → 9.4-10.2 %. One leader alone (loads 4-6): Redis 5.6 → ' +
      '5.0 %, 8.1 → 6.3 MB/s of garbage, SQLite 6.6 → 4.3 %, 6.1 → 3.4 MB/s. RSS moves by ' +
      'tens of MB between runs of either build (Redis 102-117 MB on main, 102-157 on this ' +
      'one; the live heap of a 1,000-election leader 25 MB on both), so no RSS claim is ' +
      'made. Both still miss the 2 % and +30 MB budgets. Failover and safety unchanged: all ' +
      'led again 4.8 s after the SIGKILL on both backends (main 5.2 and 4.8 s), never two ' +
      'leaders.',
    '- **Claims in batches (changed, issue 27).** After the SIGKILL the followers ' +
      'claimed each of the 1,000 elections alone (2,000 `tryAcquire`s per follower sidecar ' +
      'by the end of a probe); now the claims of a moment go in one `batch.claimMany` on ' +
      'Redis (one `CLAIM_MANY` script, 500 claims a call) and SQLite (one transaction), ' +
      "each judged by the single claim's own code (docs/design.md §3.8): 23-25 acquire " +
      'requests per follower sidecar. 18:10 run (loads 1.7-2.3): all 1,000 led again 5.2 s ' +
      'after the SIGKILL on Redis and on SQLite, never two leaders; a 17:16 run took 7.3 s ' +
      '(Redis, load 3.6) and 7.7 s (SQLite, load 6.8). The leases run out 4-6 s after the ' +
      'SIGKILL, by where in its renew interval the leader died, so single runs spread by 2 s. ' +
      'A step-by-step probe on Redis (3 sidecars × 1,000, lease PTTLs read at the kill, ' +
      'loads 1.5-3.8): from the last expiry to every election led by the polled answers ' +
      '0.47-0.53 s with claimMany (2 runs; the last `elected` line 0.32-0.45 s after it), ' +
      '0.80 s on main (the last `elected` 0.67 s after it).',
    '- **One request per tick (changed, issue 27).** Before, a leading sidecar sent 2 ' +
      'renewal and 2 member batches per renew interval at 1,000 elections (the heartbeat ' +
      'split at 500) and a follower 2 member batches and 1 read: 4.0-4.4 and 3.0-3.3 on ' +
      'Redis, PostgreSQL and SQLite (11:10 run, loads 3.6-6.7). Now the tick goes in one ' +
      '`batch.beat` (renewals, member records and reads together; split only at the ' +
      "store's `maxBeat`, from its real limits: docs/design.md §3.8): Redis 1.4 (leader) " +
      'and 1.5-1.6 (followers), SQLite 1.2 and 1.3-1.4, 0 claims (14:23 run, loads 8.7-15). ' +
      "Still above 1: under that load a tick's timers fire over more than the 50 ms window, " +
      'and 0.2-0.5 beats per interval carry only late reads (the budget is met at idle in ' +
      "core's test, one-request-per-tick: 10-11 requests in 10 intervals at 600 elections, " +
      '4 per interval on the old heartbeat). CPU 7.1-7.7 % on Redis, 9.1-10.6 % on SQLite ' +
      '(before 4.2-4.9 and 7-10.1 at loads 3.6-3.7: not comparable under this load). All ' +
      'led again after the SIGKILL in 7.5 s on Redis (load 14.3; 4.7 s before at 3.7) and ' +
      '5.2 s on SQLite (load 8.7; 6.3 s before), never two leaders. etcd and ZooKeeper keep ' +
      'their separate batches (16 + 16 txns on etcd).',
    '- **Followers read in batches (changed).** A follower claimed each election once per ' +
      'retry interval (1 s): 1,800-2,030 claims per renew interval per follower on Redis and ' +
      'SQLite (14-24 % of a core, loads 1.8-13), and on PostgreSQL the one session served ' +
      'only 60-170 a renew interval, so that after the SIGKILL the followers led none of ' +
      'the 1,000 again within 3 TTL + 60 s (a before-run at load 4.8 too). Now a follower that ' +
      "knows the holder reads every election in its heartbeat's one `batch.readMany` per " +
      'renew interval and claims only a free or expiring lease (docs/design.md §3.8): 0 ' +
      'claims and 1-1.1 reads per renew interval per follower on all three, 4.2-10.1 % of a ' +
      'core (loads 3.5-3.8). All led again after the SIGKILL in 4.7 s on Redis and 6.3 s on ' +
      'SQLite (target 7 s; before, at loads 1.8-2.3: 5.0 and 5.4 s, the first in line claimed ' +
      'at the expiry then too); a run at load 20 took 34.0 s on SQLite, and a two-sidecar ' +
      'probe at load 22-24 33.0 s before, 8.6 s after: single runs vary that much under load. ' +
      'PostgreSQL at 300 elections: 590 claims per renew interval and 14.5 % per follower ' +
      'before, 1 read and 1.8-2.7 % after, all led again in 5.0 s before and 5.9 s after ' +
      '(loads 3.0 and 2.4). At 1,000 it missed: 784 of 1,000 led again within 78 s ' +
      "(495 in a run at loads 5-16), the first in line's 1,000 claims timing out behind " +
      "each other and the tick's 3-4 requests on one session. With one request per tick " +
      '(14:36 run, load 1.4-2.0): 1.0 request per renew interval on each of the three ' +
      'sidecars, 0 claims, and all 1,000 led again 8.8 s after the SIGKILL (target 7 s), ' +
      'never two leaders; CPU 12.2-12.9 % of a core, RSS +76 MB over one election. A ' +
      'first batched claim statement was built and taken out then: in this bench its ' +
      'answers came late and were handed back, and it was unsafe (docs/design.md §3.8; ' +
      'built again since, above). ZooKeeper keeps per-election claims (a claim holds its ' +
      'queued znode), once a TTL while its queue’s watch stands in (above); etcd waits on its ' +
      'watch.',
    '- **etcd followers wait on the watch (changed).** `LeaseStore.watching` says when the ' +
      "waiting line's watch is live; a follower then skips its polls and claims once a TTL " +
      '(docs/design.md §3.8; measured below with once in 5 TTLs, cut to one afterwards: ' +
      'at 5 a follower behind the first in line named a dead leader for 9 s and more, so a ' +
      'follower now makes about 3 times the claims below, still a sixth of polling). ' +
      'At 100 elections: 181-183 claims and 27-28 % of a core ' +
      'per follower before (load 7.6), 0 claims in the 20 s window and 5.3-5.6 % after ' +
      '(load 8.7; the once-in-5-TTLs claims average 100 / 15 ≈ 7 per renew interval); ' +
      'failover 5.8 s before, 6.5 s after, no two leaders. At 1,000: 308-378 claims per ' +
      'renew interval per follower before (with the leader losing and retaking leases, ' +
      'load 13-16), 6-82 after (load 7-14), the leader steady at 16 renewal and 16 member ' +
      'txns. The first after-run still ' +
      'polled: the sidecar’s request-counting store wrapper did not pass `watching` on ' +
      '(fixed, with a test).',
    '- **Metrics (changed).** Store-request histograms per election were 57,073 series on a ' +
      '1,000-election leader (42,073 on a follower); counted once per request, by op, ' +
      '12,100-13,100 (the per-election leadership and steering gauges). Redis, same bench: ' +
      'leader RSS 321 → 192 MB, CPU 7.5 → 6.6 % (loads 9.4 and 9.0).',
    '- **Start-up in waves (changed).** A 1,000-election sidecar started every elector at ' +
      'once: on etcd at a load of 20 it led none after 3 minutes (14,026 claims, 10,525 ' +
      'failed, leases handed back as their late answers came). In waves of 50 it led all ' +
      '1,000 in 59 s at a load of 15 (6.3 s at 7); Redis 2.5 s, SQLite 4.5 s, PostgreSQL ' +
      '5.7 s, ZooKeeper 15.6 s.',
    '- **RSS misses: +93 MB (Redis) and +71 MB (SQLite) over one election at 1,000 in ' +
      'the saved run (14:41-14:43 UTC, load 2.8-4.2, Node 20; the 11:10 run, before the ' +
      'changes below: +126 and +180, load 4-11; at 14:14, with all but the cap, load 8-14: ' +
      '+97 and +146).** Where it goes (one sidecar leading 1,000 on Redis, ' +
      'Node 20, against one leading one, 59 → 128-130 MB RSS, load 1.6-3.3): V8 heap +65 MB, ' +
      'of it the young generation +32 MB (grown to its 2 × 16 MB maximum by the idle ' +
      'allocation rate, 8.4 MB/s or ~17 KB per election per renew interval: sampling heap ' +
      'profiler) and the old generation +33 MB with only +15 MB live (heap snapshot: ~15 KB ' +
      'an election, over the elector’s objects, closures and three timers, its HTTP state ' +
      'and metric series). No route, store client or history buffer is per election. ' +
      'Changed: the metric series are families made at scrape time (prom-client kept 15 ' +
      'objects per election and a hidden class per key: 4,000 maps), the subscribers are ' +
      'made at first use, and a renewal arms a wait timer and makes closures fewer; in ' +
      'process with the memory store an election’s heap went from 17.0 to 14.8 KB (its HTTP ' +
      'state 3.2 → 1.8 KB, a scrape 2.5 → 1.9 KB; 1,000 electors, load 8.3). End to end ' +
      'V8’s headroom, not what is kept, ' +
      'sets the RSS, and it moves by tens of MB between runs. The young generation is now ' +
      'capped at 8 MB after start-up (the launcher): one sidecar leading 1,000 on Redis, ' +
      '20 s idle, single runs at load 1-5: Node 24 (the image’s) 211 → 126 MB resident ' +
      '(young generation 101 → 8 MB), CPU 4.2 → 6.6 %; Node 20 119-135 → 104 MB, CPU ' +
      '3.9-6.1 → 4.9 %; one election unchanged (Node 24 78-79 MB, Node 20 59-60 MB). ' +
      'Not growing it at all (1 MB semi-spaces) promoted enough to fill the old ' +
      'generation instead (Node 20 110-153 MB) at 7.0-7.2 % CPU.',
    '- **Main beside it** (main’s build, same bench, 14:43-14:46 UTC, load 1.2-2.9, not ' +
      'saved): Redis 130, 188, 188 MB (+127), SQLite 241, 177, 173 MB (+181); CPU Redis ' +
      '7.2-7.4 %, SQLite 13.7-17.5 %. This build: Redis +93 (the followers 123 and 122 MB), ' +
      'SQLite +71, CPU Redis 8.3-10.7 %, SQLite 12.6-14.7 % (load 2.8-4.2).',
    '- **CPU misses**: 8-15 % of a core per sidecar at 1,000 on Redis and SQLite on both ' +
      'builds (etcd 16-22 % in its older row; ZooKeeper 20-21 % on the followers, their ' +
      'claims once a TTL per election, 4.4 % on the leader). Profile of an ' +
      'idle 1,000-election leader (Redis, 20 s, load 8-12): the main thread 94-96 % idle; ' +
      'the collector 0.8-2.1 %, then member records, the Redis batch, the elector, store ' +
      'calls and ioredis 0.2-0.5 % each: 1,000 elections’ renewals, spread thin, with no ' +
      'one per-election cost to remove.',
    '- **Failover.** Within TTL + 1 s (7 s) on Redis (5.7 s), SQLite (5.6 s) and etcd at ' +
      '100 (6.5 s); ZooKeeper took 12.3 s (sessions end on its tick; member writes per ' +
      'election crowd its one session; 10.2 s with its member writes gone, above); ' +
      'PostgreSQL did not finish (above). etcd at 1,000 ' +
      'led 709 again at most in 78 s: the 1,000 expiries wake the followers together, a ' +
      'claim storm on one connection like the start-up one (start-up now goes in waves; ' +
      'takeovers do not yet). “Two leaders” was 0 on every row: the ledger checked ' +
      '1,000-104,501 leader answers a run.',
  ],
  /** Under the shards tables (lib/shards-report.mjs): what the runs and their lines showed. */
  shards: [
    '- **Start-up transfers, before and after the start-up settle** (core’s balancer waits ' +
      'for its first settled member list before claiming: docs/shards.md). Before it, the ' +
      'first sidecar up saw itself alone, claimed all 64 and handed the rest away: 51 ' +
      'transfers on Redis (07:25 and 07:26 UTC, load 6.8 and 8.8), and in an A/B of the ' +
      'built balancer at 07:56–08:02 UTC (load 5-12), old against new, etcd 50 and 46 ' +
      'against 5 and 16, ZooKeeper 20 and 38 against 4 and 7. At their share, from all ' +
      'up: etcd old 54.9 and 12.3 s against 4.7 and 27.3 s new, ZooKeeper 3.6 and 5.9 s ' +
      'against 4.7 and 4.5 s. What remains: a sidecar whose member lists do not settle ' +
      'within the bound (two renew intervals and a handoff: member calls timing out at 1 s ' +
      'under load) claims by the latest list, which may show it alone: 37 transfers ' +
      'in a ZooKeeper run at 08:05 UTC (load 11), one sidecar claiming 49 shards 5 s ' +
      'after it was up.',
    '- **etcd and ZooKeeper: the misses are the stores’ own pace at TTL 3 s.** In the ' +
      'saved run (load 1-5) etcd’s start reached the share 6.5 s after all were up (12 ' +
      'transfers), and ZooKeeper’s killed shards were owned again after 4.1 s: a ' +
      'ZooKeeper session ends on its tick after the timeout, then a follower looks within ' +
      'a retry interval. In two runs at load 10-13 (before etcd followers waited on the ' +
      'watch) etcd did not keep the leases at all (`lease-expired` in the lines, 297 ' +
      'claims for 64 shards, member calls and renewals timing out at 1 s = TTL / 3).',
    '- **The etcd3 Election per shard** elects whichever replica’s campaign lands first: ' +
      'all 64 shards on one replica (the counts), and nothing ever moves to a newcomer or ' +
      'to balance a death, so every balance target is “cannot”. After the SIGKILL of the ' +
      'replica holding them, the other replicas’ waiting campaigns took few over within ' +
      'the 30 s the phase waits: none of 64 in the saved run, 1 of 4 and 1 of 16 in runs with ' +
      'fewer shards (08:20 UTC, load 1-6), with no campaign error; the one-election etcd3 ' +
      'candidate of the failover rows takes over within a TTL. With a client of its own ' +
      'per shard (an experiment, 4 over 3 at 08:24 UTC, load 0.3) all 4 were owned again ' +
      '3.05 s after the kill: campaigns sharing one etcd3 client (one watch stream) miss ' +
      'the deletion they wait for, in etcd3 1.1.2 as this harness uses it ' +
      '(bench/candidates/etcd3-shards.mjs); not traced further. ' +
      'In a run at 08:02 UTC (load 11) its lines showed two owners of 4 shards for up to ' +
      '752 ms: a replica learns its lease is gone only when its keep-alive fails.',
    '- **Never two owners** held on every leasehold row: no overlap in the sidecars’ ' +
      '`shard-elected` / `shard-deposed` lines (a transfer’s donor says `deposed` before ' +
      'the hand-over), and no answer of `GET /v1/shards/{name}` naming a term older than ' +
      'one another answer had already shown, over ~2,000 answers a row.',
  ],
  churn: [
    '- **A plateau, not a leak.** The issue measured Redis rising from 66-73 to 102-104 MB and ' +
      'etcd from 82-88 to 115 MB under the same churn, descriptors flat. Here each sidecar ' +
      'rises 5-12 MB over its idle RSS and stays there: the half-way sample and the end are ' +
      'within 1-2 MB of the peak, descriptors 21-22 idle and 22-24 at the end (the admin ' +
      'routes and the resign answers’ connections). Since then the admin routes are loaded at ' +
      'start-up when an admin token is set, so the idle figure already holds Fastify; the ' +
      'launcher caps the young generation after start-up; /v1/leader answers are cached ' +
      'per change (docs/design.md §4). 1,168 resigns on Redis and 1,194 on etcd in 10 minutes ' +
      '(a tick found no leader 27 and 2 times: the next one had not claimed yet), none failed.',
  ],
  notes: [
    '- **Quiet and loaded.** bench/results/ keeps, besides the last full run, a `--quick` run ' +
      'at a quiet moment of the same day (quick-2026-11-29-quiet.json, load average 0.4): ' +
      'graceful handoff p50 4.2 ms on Redis, 8.8 ms on PostgreSQL, 11.4 ms on etcd, 5.6 ms ' +
      'on ZooKeeper, 7.1 ms on SQLite; 2.7-15.3 ms with 50 candidates; start-up 189-227 ms ' +
      '(etcd 352 ms, Node alone 66 ms); idle RSS 56-58 MB (etcd 69 MB). Its only misses were ' +
      'etcd’s handoff, start-up and idle RSS.',
    '- **What the numbers are.** leasehold’s failover rows run the Elector in candidate ' +
      'processes (bench/candidates/leasehold.mjs), as the alternatives run their libraries: ' +
      'the same comparison a user makes. Cold start, footprint and HTTP run the real ' +
      '`leasehold` command.',
    '- **Crash takeover.** A SIGKILLed or frozen leader is replaced when its lease expires, ' +
      'up to one TTL after its last renewal (the from-the-kill rows); leasehold takes over ' +
      'within milliseconds of the expiry where the store tells the expiry exactly. etcd ' +
      'expires leases on its own schedule (it checks every 500 ms) and reports remaining ' +
      'TTLs in whole seconds, ZooKeeper ends sessions on its tick, so “after the expiry” is ' +
      'not measured there.',
    '- **What the alternatives do under faults.** A frozen (SIGSTOP) or cut-off node-redlock ' +
      'or pg_try_advisory_lock loop believes it leads until one of its own calls fails; the ' +
      'etcd3 Election until its lease keep-alive gives up. The “stale answers” and path-cut ' +
      'rows show for how long they said “leader” while another candidate already led. ' +
      'PostgreSQL keeps an advisory lock while the server believes the session alive, so a ' +
      'frozen or cut-off holder keeps it (nobody takes over) until TCP gives up, which by ' +
      'default takes far longer than the benchmark waits. leasehold’s answer is computed from ' +
      'its deadline at the moment it is asked, so it says “not leader” from the first answer.',
    '- **Bundling (adopted for the image and the release) and the compile cache.** ' +
      'scripts/bundle.mjs (rolldown, a development dependency) bundles the command into a ' +
      '`pnpm deploy` copy: one entry module and a chunk per lazily loaded part (each ' +
      'adapter with its driver, the Fastify routes), etcd3’s .proto files beside it, ' +
      'better-sqlite3 and pino-pretty left to node_modules; bin/leasehold.js runs it where ' +
      'it is there (the Dockerfile and `pnpm release` make it; the workspace and the npm ' +
      'packages keep tsc’s modules). Start to first leader p50, unbundled against bundled, ' +
      'five interleaved starts each on 2026-12-07 10:31 UTC (load 1.6-5.4): Node 20 Redis ' +
      '223 → 152 ms, PostgreSQL 353 → 231, etcd 651 → 402, ZooKeeper 448 → 276; Node 22 ' +
      '407 → 279, 302 → 284, 572 → 380, 397 → 258; Node 24 307 → 256, 322 → 261, ' +
      '521 → 442, 397 → 285. Node 22.1 and later also keep a module compile cache when ' +
      'asked, which the launcher now does (docs/design.md §4): at load 0.6-1.5, without → ' +
      'with, Node 22 189 → 170 ms (Redis), 190 → 173 (PostgreSQL), 321 → 298 (etcd), ' +
      '210 → 187 (ZooKeeper); Node 24 194 → 182, 199 → 185, 295 → 281, 273 → 237: a tenth, ' +
      'where the bundle saves a third. An earlier esbuild trial (load 5) measured etcd ' +
      '355-704 ms against 746-1,450 ms unbundled.',
    '- **Node runtimes table (2026-12-07 12:55-13:06 UTC, load 1.5-3.7, nothing else ' +
      'running).** Bundled, start to first leader (p50) was 169/201/276/176 ms on Node 20, ' +
      '155/173/246/166 ms on Node 22 and 168/174/257/166 ms on Node 24 (Redis, PostgreSQL, ' +
      'etcd, ZooKeeper): every backend within 250 ms on Node 22, etcd over it by 26 ms on ' +
      'Node 20 and by 7 ms on Node 24 (243 ms in a run at 10:58). The workspace’s modules ' +
      '196-340 ms. An earlier run at 10:58, while the load fell from 28, is replaced by this one.',
    '- **Cold start counts from a namespace in use.** Each sidecar starts in a never-used ' +
      'election, after one uncounted start. On Redis the very first sidecar in a namespace ' +
      'the server has never served waits one TTL before it reports leadership (it cannot tell ' +
      'a new namespace from one Redis lost; docs/stores.md): once per namespace and server.',
    '- **Where the idle memory went.** Before this work an idle sidecar was 71 MB on Redis, ' +
      '74 MB on PostgreSQL, 80 MB on etcd and 73 MB on SQLite (same measurement): Fastify with ' +
      'its schemas, OpenAPI and SSE plugins (about 10 MB) and the YAML library were loaded by ' +
      'every sidecar. SQLite’s watch polled the file 40 times a second (0.6-1.0 % of a core); ' +
      'it now waits for the OS to report a commit.',
    '- **Idle CPU on etcd (issue 28): from five gRPC calls per renew interval to two.** ' +
      'What woke an idle etcd leader (strace of a Node 20 sidecar over 60 s, an earlier ' +
      'session): every TTL / 3 (3.3 s at the default 10 s TTL) the elector renews and ' +
      'heartbeats, and on etcd each was a new HTTP/2 stream: the renew’s check txn and its ' +
      'keep-alive (a bidirectional stream opened for one request), the member heartbeat’s ' +
      'keep-alive, put and list (counted at etcd3’s connection pool: 20 calls and streams in ' +
      '4 renew intervals); etcd follows each call with HTTP/2 PINGs (grpc-go’s bandwidth ' +
      'probe, which the server starts on every DATA frame it receives: no client option turns ' +
      'it off) the client acknowledges; gRPC’s own keepalive ping every 10 s; and the ' +
      'event-loop lag monitor’s 100 ms timer (0.08-0.09 % of a core). A CPU profile (Node 20) ' +
      'put grpc-js, Node’s http2 and stream internals and the garbage collector at about ' +
      'three quarters of the busy time. Measured then side by side under a load of 12-15: ' +
      'Node 20 0.79-1.18 %, Node 24 0.58-0.72 %, a Redis sidecar 0.33-0.46 %. Now every ' +
      'keep-alive is a message on ONE LeaseKeepAlive stream kept open, the member record’s ' +
      'put and list are one txn, and a leader’s member heartbeat sends no keep-alive while ' +
      'its renewals keep that lease alive (docs/design.md §4): an idle leader makes two txns ' +
      'per renew interval and one keep-alive message ' +
      '(`packages/adapters/test/etcd-calls.test.ts`: 8 calls in 4 intervals, no stream ' +
      'opened). Before and after, a leading one-election sidecar, 60 s after a 60 s settle, ' +
      'four at once (etcd and Redis on Node 20 and 24), two rounds each ' +
      '(`bench/results/idle-cpu-etcd.json`; main built in a scratch copy, `footprint.mjs ' +
      '--bin`): before (17:11-17:15 UTC, load 7.3 → 0.8) etcd Node 20 0.53, 0.58 %, Node 24 ' +
      '0.50, 0.57 %, Redis 0.18-0.22 %; after (17:21-17:25 UTC, load 6.3 → 0.8) etcd Node 20 ' +
      '0.37, 0.38 %, Node 24 0.33, 0.33 %, Redis 0.18-0.20 %. The etcd sidecar still costs ' +
      'about 0.15 % of a core more than Redis: its two unary calls per cycle, and the gRPC ' +
      'keepalive ping. `bench/runtimes.mjs --seconds 60` on this change (17:49-18:04 UTC, ' +
      'load 1.3 → 2.6; `bench/results/runtimes-idle-etcd.json`): etcd 0.35 % on Node 20, ' +
      '0.35 % on Node 22, 0.37 % on Node 24, every other backend below that (a run of main’s ' +
      'runtimes.mjs before the launcher’s compiler pause, so not SQLite nor RSS by kind: kept ' +
      'beside runtimes.json). The runtimes table above (21:49-22:01 UTC, load 0.9 → 0.1, ' +
      'nothing else running) has this change: etcd 0.49, 0.42, 0.30 % on Node 20, 22, 24, ' +
      'every backend within 0.5 %.',
    '- **Footprint (issue 28): what is left is mostly Node itself.** Of an idle sidecar’s ' +
      'RSS, the pages of the `node` binary it has touched are the larger part: 43.5 MB of ' +
      '61 MB on Node 20 and 54 MB of 82 MB on Node 24 (Redis, /proc/PID/status RssFile ' +
      'against RssAnon); Node alone idling (`node -e "setTimeout(…)"`) is 40 MB (20) and 43 MB ' +
      '(24), 34-35 MB of it the binary. Those pages are shared by every Node process on the ' +
      'host (PSS divides them), but RSS counts them whole, so a 50 MB sidecar in RSS is out of ' +
      'reach on Node 24 and needs the sidecar’s own memory under 7 MB on Node 20. V8 flags ' +
      'measured on Node 24 (Redis, after a minute): --max-semi-space-size=1 82→82 MB (the ' +
      'launcher already keeps the young generation from growing during start-up), ' +
      '--no-maglev 80, --v8-pool-size=1 82, --no-sparkplug 82, --single-threaded-gc 83, ' +
      '--jitless 72, --lite-mode 67 (51 on Node 20); lite mode and jitless give up the ' +
      'optimising compilers and WebAssembly (Node’s fetch runs on it), so they are not set. ' +
      'What was done: one full garbage collection 10 s after start-up, which returns the old-' +
      'space pages start-up left (Node 24 82→77 MB on Redis, Node 20 unchanged), and in run ' +
      'mode a bash watchdog started with each run instead of two Node watchdogs (148→62 MB ' +
      'RSS for sidecar and watchdogs on Node 20, 81 MB on Node 24). The start-to-first-leader ' +
      'rows of the footprint targets were measured under a load average of about 13 (Node ' +
      'alone took 489 ms on Node 20 then): they say nothing about the target; the quiet ' +
      'figures are the cold-start table above, which this work does not change (the bash ' +
      'watchdog starts only at an election, the collection 10 s after start-up).',
    '- **Footprint (issue 28), second pass: the optimising compilers at start-up, and what ' +
      'remains.** 2026-12-07 17:00-17:40 UTC, load 3-12, one sidecar per backend leading one ' +
      'election, /proc read after 60-70 s idle (RSS side by side; several sidecars at once). ' +
      '**Adopted**: the launcher keeps TurboFan and Maglev off while the modules load and ' +
      'turns them on once the sidecar listens (docs/design.md §4). RSS before → after, 2-4 ' +
      'runs each: Node 24 Redis 78.2-79.0 → 70.3-71.4 MB, etcd 87.8-88.4 → 81.8-82.6, SQLite ' +
      '78.1-78.2 → 70.6-71.8; Node 20 Redis 58.9-59.5 → 53.4-53.8, etcd 72.3-74.2 → 66.1-66.9, ' +
      'SQLite 59.7-63.2 → 60.5-62.4 (no change). Most of it is the `node` binary’s code pages ' +
      '(Node 24 Redis: its text 30.3 → 24.8 MB; Node 20 21.4 → 18.0), the rest heap. An idle ' +
      'sidecar optimises its renew path later, which brings the compilers’ pages back; after ' +
      '3 / 6 / 10 / 15 min, new against old: Node 24 Redis 71.5/79.2, 72.6/79.7, 75.1/80.5, ' +
      '75.8/81.0; Node 24 etcd 89.0/90.5, 100.3/102.8, 101.6/103.6, 102.7/104.6; Node 20 Redis ' +
      '57.5/59.1, 57.6/60.1, 58.3/60.0, 59.3/63.1; Node 20 etcd 70.0/77.0, 74.0/80.8, ' +
      '73.5/82.3, 74.3/82.4. Cold start, interleaved, 7 rounds each at load 5-7: Node 20 ' +
      'Redis 594 → 456 ms, etcd 1127 → 922, SQLite 464 → 468; Node 24 Redis 448 → 468, etcd ' +
      '1001 → 972, SQLite 540 → 640 (417-1296 ms: noise). /v1/leader flat out on Node 24, ' +
      'interleaved with the old launcher (load 4-9): 13,226 against 13,318 req/s, 65.3 against ' +
      '64.7 µs of server CPU per request (0.87× and 0.88× bare); Node 20, with tests running ' +
      'beside it: 10,787 against 7,797 req/s, 80.7 against 89.3 µs. **Tried, not adopted** (Node ' +
      '24 Redis unless said; the same run’s old launcher 78.2-79.0): MALLOC_ARENA_MAX=2 77.6 ' +
      'and 77.7 (etcd 88.4 → 87.3), MALLOC_ARENA_MAX=1 with MALLOC_TRIM_THRESHOLD_=131072 77.1 ' +
      '(Node 20 58.9 → 58.5), and nothing on top of the compiler pause (71.1, etcd 82.5): ' +
      'glibc reads them only at process start, so they need a re-exec (Node 20 has no ' +
      'process.execve; a child process is a second Node’s 40 MB while it starts, and its ' +
      'start-up, 30-60 ms, on every start) or the deploy files; not set. --optimize-for-size ' +
      '78.1, --single-threaded-gc 78.9, --v8-pool-size=1 78.5 (11 threads → 8), --max-lazy ' +
      '78.9, --max-old-space-size=64 78.1, --no-maglev 76.6, --no-turbofan 74.6, both for ' +
      'the whole run 69.3 (Node 20 --no-turbofan 54.0), --lite-mode 69.0: the last two give up ' +
      'optimised code under load. Bytecode flushing (eight full collections and ' +
      '--flush-baseline-code 10 s after start-up) 70.4 against 70.3; the compile cache off ' +
      '69.6 against 70.3. Keeping the compilers off for as long as the sidecar idles (on again ' +
      'at the first 2 s with the event loop ≥ 25 % busy) kept the pages out for longer (3 min: ' +
      'Node 20 Redis 53.8, Node 24 etcd 84.7) but a descheduled process counts as busy (one ' +
      'turned them on at load 9), and idle CPU on etcd (Node 20, one run each) was 0.64 ' +
      'against 0.61 %: not done. **What remains** (Node 24 Redis, after the change): 70.9 MB ' +
      '= 47.2 file-backed (the binary’s code 24.8, its read-only data 18.7, shared libraries ' +
      '3.7) + 23.7 anonymous (JS heap 15.5 committed: old space 10.4 of module code and ' +
      'objects, trusted 2.4, code 0.75, young 1; malloc 4.9; stacks and V8’s own) + 0 shared ' +
      'memory; PSS 26-42 MB, depending on how many Node processes share the binary. Node ' +
      'alone idling is 43 MB (35 file). The read-only data is also the built-in modules’ ' +
      'source: a Redis sidecar loads about 150 more of them than Node alone (http, tls, ' +
      'crypto, zlib and worker_threads for pino and prom-client, cluster for a listening ' +
      'server). Node with those same built-ins loaded and an HTTP server listening, nothing ' +
      'else, is 59.0 MB on Node 24 (44.5 file, 14.5 anon) and 46.9 on Node 20 (37.5, 9.5): ' +
      'the floor for any Node sidecar that loads them; the sidecar’s own code and data are ' +
      'about 12 MB above it on Node 24 and 6.5 on Node 20. ' +
      'Node 20 Redis: 53.4 = 39.0 file + 14.4 anon. etcd: anon 31 MB after a minute, ' +
      'and the live heap grows over the first minutes (after a full collection 18.3 MB at 4 ' +
      'min; RSS 100-105 MB from 6 min on Node 24 with either launcher, 74 on Node 20, 81-82 ' +
      'with the old one): the ' +
      'etcd client stack keeps more as it idles, for the adapter’s own review. So: ≤ 50 MB ' +
      'RSS is out of reach on Node 24 (the file-backed pages alone are 47 MB) and 3.4 MB away ' +
      'on Node 20 (Redis); in PSS after a minute every backend was under 50 MB on both (Node 24 ' +
      'etcd 35-47), but etcd’s 15-minute PSS was 54 MB on Node 24. ' +
      'The runtimes table (21:49-22:01 UTC, quiet, with this launcher) reads Node 20 ' +
      '53.8/58.8/65.8/57.5/58.7 MB (Redis, PostgreSQL, etcd, ZooKeeper, SQLite; 59.1/60.7/' +
      '70.4/59.4 before the launcher), Node 22 72.9/72.1/81.9/73.9/73.2 (81.6/74.6/90.6/79.8), ' +
      'Node 24 71.1/70.6/82.7/71.9/70.7 (78.3/78.2/88.6/79.6), run mode 57.3/76.5/74.8 MB RSS ' +
      '(63.7/83.1/81.8). Its start columns are slower than the 12:55 run’s because this host ' +
      'started every process slower after a reboot: Node alone 109, 99 and 85 ms against 58, ' +
      '35 and 29. The code did not get slower: 45393d1 (the 12:55 build) and main started back ' +
      'to back, 9 rounds each on Node 20 at load 0.4 (22:02 UTC), took 381 and 353 ms to the ' +
      'first leader on Redis, 540 and 520 ms on etcd, Node alone 104 ms.',
  ],
};
