// The alternative to a leasehold shard group (bench/shards.mjs): the `etcd3` package's
// Election, one per shard, all of a replica's in this one process, each campaigning as
// ./etcd3-election.mjs does (campaign; on an error, campaign again after the retry interval).
// Placement is left to whoever wins: the library has no balancing. To be measured like a
// sidecar, it logs the sidecar's shard-elected / shard-deposed lines (JSON, with `time`) and
// answers GET /v1/shards/{group} with the shards it owns, each with its campaign key's create
// revision as the term.
//   node bench/candidates/etcd3-shards.mjs --store etcd://HOST:PORT --group NAME --count 64
//        --id r1 --ttl 3000 --retry 1000
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    group: { type: 'string' },
    count: { type: 'string' },
    id: { type: 'string' },
    ttl: { type: 'string', default: '3000' },
    retry: { type: 'string', default: '1000' },
  },
});
const log = (fields) =>
  process.stdout.write(`${JSON.stringify({ time: Date.now(), ...fields })}\n`);
const count = Number(values.count);
const retryMs = Number(values.retry);
const client = new Etcd3({ hosts: `http://${new URL(values.store).host}` });
// etcd leases are whole seconds.
const ttlS = Math.max(1, Math.ceil(Number(values.ttl) / 1_000));
const namespace = client.namespace('lhpf-bench-etcd3-shards/');
/** shard → term (the campaign key's create revision) while this replica leads it. */
const owned = new Map();
const campaigns = new Map();
let stopping = false;

function campaign(shard) {
  if (stopping) return;
  const election = namespace.election(`${values.group}-${shard}`, ttlS);
  const running = election.campaign(values.id);
  campaigns.set(shard, running);
  // Events of a campaign given up after an error mean nothing any more.
  const current = () => campaigns.get(shard) === running;
  running.on('elected', () => {
    if (!current()) return;
    // keyRevision is the Campaign's own field (not in its typings): its key's create revision.
    const term = Number(running.keyRevision);
    owned.set(shard, term);
    log({ event: 'shard-elected', shard, term });
  });
  running.on('error', () => {
    if (!current()) return;
    const term = owned.get(shard);
    if (owned.delete(shard)) log({ event: 'shard-deposed', shard, term, reason: 'error' });
    // Its lease revoked, if etcd still answers: no second key of this replica in the queue.
    running.resign().catch(() => {});
    setTimeout(() => campaign(shard), retryMs);
  });
}

const server = createServer((request, response) => {
  if (request.url !== `/v1/shards/${values.group}`) {
    response.writeHead(404).end();
    return;
  }
  const list = [...owned].sort(([a], [b]) => a - b).map(([shard, term]) => ({ shard, term }));
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(
    JSON.stringify({ name: values.group, count, owned: list, members: null, moving: [] }),
  );
});

server.listen(0, '127.0.0.1', () => {
  log({ url: `http://127.0.0.1:${server.address().port}` });
  for (let shard = 0; shard < count; shard += 1) campaign(shard);
});

process.once('SIGTERM', async () => {
  stopping = true;
  for (const [shard, term] of owned) log({ event: 'shard-deposed', shard, term, reason: 'stop' });
  owned.clear();
  await Promise.allSettled([...campaigns.values()].map((c) => c.resign()));
  client.close();
  server.close();
  process.exit(0);
});
