// The one table of cluster.yaml settings: name, type, default and one line of doc each. It
// validates the file (load-config.ts), gives ClusterConfig its type (derived below, so a new
// setting cannot be forgotten in the type) and renders the README's reference table.

/** An integer in [min, max]. `default: undefined` means the setting is required. */
export interface IntSpec {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
  readonly default: number | undefined;
  /** Absent means "not set" (the value is undefined), not "required". */
  readonly optional?: true;
  readonly doc: string;
}

/** A string matching `pattern` (described for humans by `patternDoc`). */
export interface StringSpec {
  readonly kind: 'string';
  readonly pattern: RegExp;
  readonly patternDoc: string;
  readonly default: string | undefined;
  readonly doc: string;
}

/** A filesystem path, relative to the directory of cluster.yaml; loaded as an absolute path. */
export interface PathSpec {
  readonly kind: 'path';
  readonly default: undefined;
  readonly doc: string;
}

export interface EnumSpec<V extends string = string> {
  readonly kind: 'enum';
  readonly values: readonly V[];
  readonly default: V | undefined;
  readonly doc: string;
}

export type LeafSpec = IntSpec | StringSpec | PathSpec | EnumSpec;

/** A mapping of settings; absent or empty means every setting in it takes its default. */
export interface SectionSpec<F extends Fields = Fields> {
  readonly kind: 'section';
  readonly fields: F;
}

/** A required, non-empty list of mappings (the nodes). */
export interface ListSpec<F extends Fields = Fields> {
  readonly kind: 'list';
  readonly item: F;
  readonly doc: string;
}

export type Spec = LeafSpec | SectionSpec | ListSpec;
export interface Fields {
  readonly [key: string]: Spec;
}

/** Largest delay setTimeout honours: beyond it Node fires after 1 ms, so timings stop here. */
export const MAX_TIMER_MS = 2_147_483_647;
const MAX_INT32 = 2_147_483_647;

function int(o: { min: number; max?: number; default?: number; doc: string }): IntSpec {
  return { kind: 'int', min: o.min, max: o.max ?? Number.MAX_SAFE_INTEGER, default: o.default, doc: o.doc };
}

/** A timing in milliseconds: >= 1, and no longer than a timer can wait. */
function ms(dflt: number, doc: string): IntSpec {
  return int({ min: 1, max: MAX_TIMER_MS, default: dflt, doc });
}

function str(o: { pattern: RegExp; patternDoc: string; default?: string; doc: string }): StringSpec {
  return { kind: 'string', pattern: o.pattern, patternDoc: o.patternDoc, default: o.default, doc: o.doc };
}

function oneOf<V extends string>(values: readonly V[], dflt: V, doc: string): EnumSpec<V> {
  return { kind: 'enum', values, default: dflt, doc };
}

function section<F extends Fields>(fields: F): SectionSpec<F> {
  return { kind: 'section', fields };
}

export const CONFIG_SCHEMA = {
  cluster_id: str({
    pattern: /^[A-Za-z0-9._-]+$/,
    patternDoc: 'letters, digits, ".", "_", "-"',
    doc: 'Name of the cluster; a node refuses rpc connections that present another cluster_id.',
  }),
  nodes: {
    kind: 'list',
    doc: 'The nodes of the cluster; every node is a Raft voter and a broker.',
    item: {
      id: int({ min: 1, max: MAX_INT32, doc: 'Node id: unique, and never reused for a node with different data.' }),
      host: str({
        pattern: /^[^\s/]+$/,
        patternDoc: 'a host name or IP address',
        doc: 'Address other nodes and clients reach this node at.',
      }),
      http_port: int({ min: 1, max: 65535, doc: 'Port of the HTTP API.' }),
      rpc_port: int({ min: 1, max: 65535, doc: 'Port of node-to-node rpc (Raft, replication, forwarding).' }),
      kafka_port: {
        ...int({ min: 1, max: 65535, doc: 'Port of the Kafka wire protocol listener, advertised in Metadata as host:kafka_port; absent: the node serves no Kafka port.' }),
        optional: true,
      } satisfies IntSpec,
      data_dir: {
        kind: 'path',
        default: undefined,
        doc: "Directory of this node's Raft log, metadata image and partition data; relative to cluster.yaml.",
      } satisfies PathSpec,
    },
  } satisfies ListSpec,
  topic_defaults: section({
    partitions: int({ min: 1, max: 10_000, default: 3, doc: 'Partitions of a topic created without partitions_count.' }),
    replication_factor: int({ min: 1, max: 100, default: 3, doc: 'Replicas of a topic created without replication_factor.' }),
    min_insync_replicas: int({
      min: 1,
      max: 100,
      default: 2,
      doc: 'Default min.insync.replicas: replicas that must hold a record before acks=all succeeds.',
    }),
    auto_create: oneOf(
      ['true', 'false'] as const,
      'true',
      "Kafka's auto.create.topics.enable: a Kafka Metadata request that allows it, or a Kafka Produce, naming a missing topic creates it with these defaults; false answers UNKNOWN_TOPIC_OR_PARTITION.",
    ),
  }),
  raft: section({
    election_timeout_ms: ms(1000, 'A follower that hears no leader for this long (randomized up to 2x) starts an election.'),
    heartbeat_interval_ms: ms(100, 'How often the Raft leader heartbeats its followers; below election_timeout_ms.'),
    tick_ms: ms(50, 'Length of one Raft tick; both Raft timings must be whole multiples of it.'),
    snapshot_entries: int({
      min: 1,
      default: 10_000,
      doc: 'Snapshot the metadata image and compact the Raft log after this many applied entries.',
    }),
  }),
  broker: section({
    heartbeat_interval_ms: ms(500, 'How often a broker heartbeats to the controller; below session_timeout_ms.'),
    session_timeout_ms: ms(6000, 'The controller fences a broker that has not heartbeated for this long.'),
    replica_lag_time_max_ms: ms(10_000, 'A partition leader removes from the ISR a follower not caught up for this long.'),
    produce_inflight_bytes_max: int({
      min: 1024,
      max: 2 ** 31 - 1,
      default: 64 * 1024 * 1024,
      doc: 'Backpressure: record bytes a node may have in flight in produce requests (64 MiB); beyond it a produce gets 429 THROTTLING_QUOTA_EXCEEDED with Retry-After instead of being buffered. A lone request is always let through.',
    }),
    controlled_shutdown_timeout_ms: ms(
      5000,
      'On SIGTERM, the longest a broker waits for the controller to fence it and move the partitions it leads to other in-sync replicas; then it stops anyway.',
    ),
    controlled_shutdown_no_controller_ms: ms(
      2000,
      'On SIGTERM, a broker that can reach no controller (the metadata quorum has no leader, or its leader is gone) for this long stops without moving its leaderships, as when every node stops at once.',
    ),
    leader_rebalance_interval_ms: int({
      min: 0,
      max: MAX_TIMER_MS,
      default: 30_000,
      doc: "Auto leader rebalance (Kafka's auto.leader.rebalance.enable): this often the controller gives each partition back to its preferred replica when that one is in sync; 0 turns it off.",
    }),
  }),
  groups: section({
    session_timeout_ms: ms(10_000, 'A consumer instance that has not polled for this long leaves its group.'),
    initial_rebalance_delay_ms: int({
      min: 0,
      max: MAX_TIMER_MS,
      default: 3000,
      doc: "Kafka's group.initial.rebalance.delay.ms: the first rebalance of an empty group waits this long for more members (extended while they keep arriving, up to the rebalance timeout).",
    }),
    min_session_timeout_ms: ms(6000, "Kafka's group.min.session.timeout.ms: a member asking for a shorter session timeout is refused (INVALID_SESSION_TIMEOUT)."),
    max_session_timeout_ms: ms(1_800_000, "Kafka's group.max.session.timeout.ms (30 min): the longest session timeout a member may ask for."),
    offsets_topic_partitions: int({
      min: 1,
      max: 1000,
      default: 10,
      doc: 'Partitions of the internal __consumer_offsets topic (created on first use); a group belongs to one of them.',
    }),
  }),
  log: section({
    segment_bytes: int({
      min: 1024,
      max: MAX_INT32,
      default: 1_073_741_824,
      doc: 'Roll a new segment file at this size (1 GiB); default of the topic config segment.bytes.',
    }),
    retention_ms: int({
      min: -1,
      default: 604_800_000,
      doc: 'Delete segments older than this (7 days; -1 keeps forever); default of retention.ms.',
    }),
    retention_bytes: int({
      min: -1,
      default: -1,
      doc: 'Delete the oldest segments beyond this size per partition (-1: no limit); default of retention.bytes.',
    }),
    flush: oneOf(
      ['batch', 'always', 'os'] as const,
      'batch',
      'When appends reach disk: batch fsyncs the appends waiting at that moment together before acking ' +
        'them (acked records survive a power loss of every replica; the fsync is shared under load); ' +
        "always fsyncs each append alone; os never fsyncs and relies on replication (Kafka's default).",
    ),
    retention_check_interval_ms: ms(300_000, "How often each broker applies retention.ms / retention.bytes to its replicas (5 minutes, Kafka's default)."),
    max_message_bytes: int({
      min: 1,
      max: MAX_INT32,
      default: 1_048_588,
      doc: 'Largest record batch a produce may append; default of max.message.bytes.',
    }),
  }),
  rpc: section({
    request_timeout_ms: ms(5000, 'Deadline of a node-to-node request unless the caller sets its own.'),
    connect_backoff_max_ms: ms(2000, 'Cap of the exponential, jittered backoff between reconnects to a peer.'),
    max_frame_bytes: int({
      min: 65_536,
      max: MAX_INT32,
      default: 67_108_864,
      doc: 'Largest rpc frame (64 MiB) sent or accepted; a peer sending a larger one is disconnected.',
    }),
  }),
  process: section({
    data_dir_lock_wait_ms: ms(
      10_000,
      "At start, how long a node waits for its data_dir while another process holds it (the node's previous process still stopping) before it exits with code 3.",
    ),
  }),
} satisfies Fields;

// ---- ClusterConfig, derived from the table: snake_case keys become camelCase fields ----

export type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

type ValueOf<S> =
  S extends IntSpec & { readonly optional: true }
    ? number | undefined
    : S extends IntSpec
    ? number
    : S extends EnumSpec<infer V>
      ? V
      : S extends StringSpec | PathSpec
        ? string
        : S extends SectionSpec<infer F>
          ? ConfigOf<F>
          : S extends ListSpec<infer F>
            ? readonly ConfigOf<F>[]
            : never;

export type ConfigOf<F extends Fields> = { readonly [K in keyof F & string as CamelCase<K>]: ValueOf<F[K]> };

/** cluster.yaml exactly as the schema describes it (before derived values). */
export type SchemaConfig = ConfigOf<typeof CONFIG_SCHEMA>;

/** The runtime twin of CamelCase<S>. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m: string, c: string) => c.toUpperCase());
}

// ---- the README reference table ----

function typeDoc(spec: LeafSpec): string {
  switch (spec.kind) {
    case 'int':
      return intRangeDoc(spec);
    case 'string':
      return `string (${spec.patternDoc})`;
    case 'path':
      return 'path';
    case 'enum':
      return spec.values.map((v) => `\`${v}\``).join(' \\| ');
    default:
      return assertNever(spec);
  }
}

/** `integer 1..65535`, or `integer >= 1` when there is no practical upper bound. */
export function intRangeDoc(spec: IntSpec): string {
  return spec.max === Number.MAX_SAFE_INTEGER ? `integer >= ${spec.min}` : `integer ${spec.min}..${spec.max}`;
}

function defaultDoc(spec: LeafSpec): string {
  if (spec.kind === 'int' && spec.optional === true) return 'not set';
  return spec.default === undefined ? 'required' : `\`${String(spec.default)}\``;
}

/** Every leaf setting with its dotted name (`raft.tick_ms`; list items as `nodes[].id`). */
export function* settings(fields: Fields = CONFIG_SCHEMA, prefix = ''): Generator<[string, LeafSpec]> {
  for (const [key, spec] of Object.entries(fields)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    switch (spec.kind) {
      case 'section':
        yield* settings(spec.fields, name);
        break;
      case 'list':
        yield* settings(spec.item, `${name}[]`);
        break;
      case 'int':
      case 'string':
      case 'path':
      case 'enum':
        yield [name, spec];
    }
  }
}

/** The settings reference as a markdown table, for the README. */
export function configReferenceMarkdown(): string {
  const rows = ['| setting | type | default | meaning |', '|---|---|---|---|'];
  for (const [name, spec] of settings()) {
    rows.push(`| \`${name}\` | ${typeDoc(spec)} | ${defaultDoc(spec)} | ${spec.doc.replaceAll('|', '\\|')} |`);
  }
  return rows.join('\n') + '\n';
}

function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
