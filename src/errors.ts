// Every expected failure in runnel is a RunnelError carrying a stable Kafka error name. The
// HTTP layer maps it to a status and REST-Proxy-style error_code in one place (this table).

export const ERRORS = {
  // 400 / 422: the request itself is wrong
  INVALID_REQUEST: { status: 422, code: 42201 },
  INVALID_TOPIC_EXCEPTION: { status: 422, code: 42202 },
  INVALID_PARTITIONS: { status: 422, code: 42203 },
  INVALID_REPLICATION_FACTOR: { status: 422, code: 42204 },
  INVALID_CONFIG: { status: 422, code: 42205 },
  /** Replicas named for new partitions that do not fit the topic or the cluster. */
  INVALID_REPLICA_ASSIGNMENT: { status: 422, code: 42207 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 41501 },
  /** The Accept header names no response format runnel can produce. */
  NOT_ACCEPTABLE: { status: 406, code: 40601 },
  BAD_REQUEST: { status: 400, code: 40001 },
  MESSAGE_TOO_LARGE: { status: 413, code: 41301 },
  // 404: something named does not exist
  NOT_FOUND: { status: 404, code: 40400 },
  UNKNOWN_TOPIC_OR_PARTITION: { status: 404, code: 40401 },
  UNKNOWN_PARTITION: { status: 404, code: 40402 },
  UNKNOWN_CONSUMER_INSTANCE: { status: 404, code: 40403 },
  CLUSTER_NOT_FOUND: { status: 404, code: 40404 },
  // 409: conflicts with what exists
  TOPIC_ALREADY_EXISTS: { status: 409, code: 40901 },
  CONSUMER_INSTANCE_EXISTS: { status: 409, code: 40902 },
  INVALID_UPDATE_VERSION: { status: 409, code: 40903 },
  /** A commit for partitions this consumer instance does not (or no longer) own. */
  COMMIT_FAILED: { status: 409, code: 40904 },
  /** Resetting a group's committed offsets while it has members (Kafka NON_EMPTY_GROUP). */
  NON_EMPTY_GROUP: { status: 409, code: 40905 },
  // 429: over a limit; retry later
  THROTTLING_QUOTA_EXCEEDED: { status: 429, code: 42901 },
  // 416
  OFFSET_OUT_OF_RANGE: { status: 416, code: 41601 },
  // 5xx: the cluster cannot do it right now (retriable)
  NOT_ENOUGH_REPLICAS: { status: 503, code: 50301 },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { status: 503, code: 50302 },
  LEADER_NOT_AVAILABLE: { status: 503, code: 50303 },
  NOT_LEADER_OR_FOLLOWER: { status: 503, code: 50304 },
  FENCED_LEADER_EPOCH: { status: 503, code: 50305 },
  /** A request's CurrentLeaderEpoch is newer than the leader's (KIP-320): the leader has not caught up yet; retry. */
  UNKNOWN_LEADER_EPOCH: { status: 503, code: 50311 },
  NOT_CONTROLLER: { status: 503, code: 50306 },
  BROKER_NOT_AVAILABLE: { status: 503, code: 50307 },
  /** The connection to a peer broke before its answer arrived (Kafka NETWORK_EXCEPTION). */
  NETWORK_EXCEPTION: { status: 503, code: 50308 },
  /** The node asked is not (or no longer) the group's coordinator: ask the new one. */
  NOT_COORDINATOR: { status: 503, code: 50309 },
  /** The coordinator is reading the group's committed offsets back from the offsets topic. */
  COORDINATOR_LOAD_IN_PROGRESS: { status: 503, code: 50310 },
  REQUEST_TIMED_OUT: { status: 504, code: 50401 },
  UNKNOWN_SERVER_ERROR: { status: 500, code: 50001 },
  /** A partition log failed (disk error, closed while in use). */
  KAFKA_STORAGE_ERROR: { status: 500, code: 50002 },
  /** A stored or replicated batch failed its CRC. */
  CORRUPT_MESSAGE: { status: 500, code: 50003 },
  /** A follower's append did not start at its log end (replication out of step; it refetches). */
  INVALID_BASE_OFFSET: { status: 500, code: 50004 },
  INVALID_RECORD: { status: 422, code: 42206 },
  /**
   * An idempotent producer's batch skips sequence numbers: an earlier batch of it was not
   * appended. The producer starts a new epoch and resends (HTTP produce does so by itself).
   */
  OUT_OF_ORDER_SEQUENCE_NUMBER: { status: 503, code: 50311 },
  /** An idempotent producer's batch carries an epoch older than one the partition has seen. */
  INVALID_PRODUCER_EPOCH: { status: 503, code: 50312 },
} as const satisfies Record<string, { status: number; code: number }>;

export type ErrorName = keyof typeof ERRORS;

export class RunnelError extends Error {
  readonly status: number;
  readonly errorCode: number;

  constructor(
    readonly errorName: ErrorName,
    message: string,
  ) {
    super(message);
    this.name = 'RunnelError';
    this.status = ERRORS[errorName].status;
    this.errorCode = ERRORS[errorName].code;
  }

  /** Plain form for the rpc layer (errors cross nodes as values, not class instances). */
  toWire(): { errorName: ErrorName; message: string } {
    return { errorName: this.errorName, message: this.message };
  }

  static fromWire(w: { errorName: string; message: string }): RunnelError {
    const name = (w.errorName in ERRORS ? w.errorName : 'UNKNOWN_SERVER_ERROR') as ErrorName;
    return new RunnelError(name, w.message);
  }
}

/** A 422 naming the bad field: `invalid('partitions_count', 'must be an integer >= 1')`. */
export function invalid(field: string, why: string, name: ErrorName = 'INVALID_REQUEST'): RunnelError {
  return new RunnelError(name, `${field}: ${why}`);
}

/**
 * cluster.yaml is wrong. `field` is the setting's path (`nodes[1].rpc_port`,
 * `raft.election_timeout_ms`); the message always starts with it.
 */
export class ConfigError extends RunnelError {
  readonly field: string;
  readonly why: string;
  /** The file the setting came from, when loaded from one. */
  readonly file: string | undefined;

  constructor(field: string, why: string, file?: string) {
    super('INVALID_CONFIG', file === undefined ? `${field}: ${why}` : `${field}: ${why} (in ${file})`);
    this.name = 'ConfigError';
    this.field = field;
    this.why = why;
    this.file = file;
  }
}
