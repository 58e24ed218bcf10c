// A kafkajs group member in a process of its own, so that a bench can SIGKILL it (a member that
// dies: no LeaveGroup, its session expires) or SIGTERM it (a member that leaves: disconnect
// sends LeaveGroup). Prints one JSON line per GroupJoin: {"partitions": n}.
// Usage: tsx test/bench/kafkajs-member.ts BROKERS GROUP TOPIC SESSION_TIMEOUT_MS
import { Kafka, logLevel } from 'kafkajs';
import { FAST_KAFKAJS } from '../support/group-members.ts';

const [brokers = '', group = '', topic = '', session = '3000'] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'kafkajs-member', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: group, ...FAST_KAFKAJS, sessionTimeout: Number(session) });
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const partitions = Object.values(e.payload.memberAssignment).flat().length;
  process.stdout.write(JSON.stringify({ partitions }) + '\n');
});
process.once('SIGTERM', () => {
  void consumer.disconnect().then(() => process.exit(0));
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({ eachMessage: () => Promise.resolve() });
