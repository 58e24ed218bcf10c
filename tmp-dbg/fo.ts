import { Kafka, logLevel } from 'kafkajs';
import { ProcessCluster } from '../test/support/process-cluster.ts';
import { pollUntil } from '../test/support/poll.ts';
const c = await ProcessCluster.started();
const t0 = performance.now();
const ts = () => (performance.now() - t0).toFixed(0);
try {
  const brokers = c.ids.map((id) => `127.0.0.1:${c.kafkaPorts.get(id)}`);
  await c.http(1, 'POST', c.v3('/topics'), { topic_name: 'kgbench', partitions_count: 6, replication_factor: 3 });
  const kafka = new Kafka({ clientId: 'fo', brokers, logLevel: logLevel.INFO, logCreator: () => ({ namespace, level, log }) => console.log(ts(), 'kjs', namespace, log.message, log.error ?? '', log.broker ?? '') });
  const consumer = kafka.consumer({ groupId: 'g-fo', sessionTimeout: 3000, heartbeatInterval: 300, rebalanceTimeout: 3000, retry: { initialRetryTime: 100, retries: 8 } });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.connect();
  await consumer.subscribe({ topic: 'kgbench', fromBeginning: true });
  await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
  await pollUntil('join', () => joined, 30000, 10);
  let stop = false; let killedAt = Infinity; let rec = NaN;
  const committer = (async () => { for (let n = 0; !stop; n++) { const s = performance.now(); try { await consumer.commitOffsets([{ topic: 'kgbench', partition: 0, offset: String(n) }]); if (s > killedAt && Number.isNaN(rec)) { rec = performance.now(); console.log(ts(), 'first commit ok after kill'); } } catch (e) { console.log(ts(), 'commit failed', (e as Error).message); } await new Promise((r) => setTimeout(r, 50)); } })();
  const view = (await c.get(1, c.v3('/consumer-groups/g-fo'))) as { coordinator_id: number };
  console.log(ts(), 'killing coordinator', view.coordinator_id);
  killedAt = performance.now();
  await c.kill(view.coordinator_id);
  await pollUntil('rec', () => !Number.isNaN(rec), 60000, 10);
  stop = true; await committer;
  console.log('failover', (rec - killedAt).toFixed(0));
  for (const id of c.ids) if (id !== view.coordinator_id) { const l = await c.logOf(id); console.log(l.split('\n').filter((x) => /coordinator|offsets partition|fenc|leader of/.test(x)).slice(-12).join('\n')); }
  await consumer.disconnect();
} finally { await c.destroy(); }
