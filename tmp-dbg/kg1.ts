import { kafkaGroupsBench } from '../test/bench/kafka-groups-bench.ts';
import { ProcessCluster } from '../test/support/process-cluster.ts';
const c = await ProcessCluster.started();
try { await kafkaGroupsBench(c, 1); } finally { await c.destroy(); }
