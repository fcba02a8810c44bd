// The `etcd3` package's Election, as its documentation shows it: campaign, and on an error
// campaign again. Its lease is kept alive by the library (every TTL / 3).
import { Etcd3 } from 'etcd3';
import { hostCandidates } from '../lib/candidate-host.mjs';

await hostCandidates(async ({ id, store: url, election: name, ttlMs, retryMs, say }) => {
  const { host } = new URL(url);
  const client = new Etcd3({ hosts: `http://${host}` });
  const election = client.namespace('lhpf-bench-etcd3/').election(name, Math.ceil(ttlMs / 1_000));
  let leading = false;
  let stopped = false;
  let campaign = null;
  const run = () => {
    if (stopped) return;
    campaign = election.campaign(id);
    campaign.on('elected', () => {
      leading = true;
      say('elected');
    });
    campaign.on('error', () => {
      if (leading) say('deposed');
      leading = false;
      setTimeout(run, retryMs);
    });
  };
  run();
  return {
    isLeader: () => leading,
    async stop() {
      stopped = true;
      leading = false;
      await campaign?.resign().catch(() => {});
      client.close();
    },
  };
});
