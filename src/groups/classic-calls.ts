// The classic consumer-group protocol as the coordinator serves it (Kafka's JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup and member offset commits), in one shape for both front doors: a Kafka
// handler fills these from its request, and an HTTP consumer instance (the node acting as that
// member's client) sends the same calls, over rpc when another node coordinates the group.
//
// Errors of the protocol (MEMBER_ID_REQUIRED, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL,
// INVALID_SESSION_TIMEOUT, GROUP_MAX_SIZE_REACHED, COORDINATOR_NOT_AVAILABLE) come back in the
// answers' `error` (Kafka error names); a call that does not reach a loaded coordinator
// throws a RunnelError (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) instead.

/** A Kafka error name as answered by the group protocol; null for none. */
export type GroupProtocolError =
  | 'MEMBER_ID_REQUIRED'
  | 'UNKNOWN_MEMBER_ID'
  | 'ILLEGAL_GENERATION'
  | 'REBALANCE_IN_PROGRESS'
  | 'FENCED_INSTANCE_ID'
  | 'INCONSISTENT_GROUP_PROTOCOL'
  | 'INVALID_SESSION_TIMEOUT'
  | 'GROUP_MAX_SIZE_REACHED'
  | 'COORDINATOR_NOT_AVAILABLE'
  | 'NOT_COORDINATOR'
  | 'INVALID_GROUP_ID'
  | 'UNKNOWN_SERVER_ERROR';

/** One protocol (assignor) a member supports, with its subscription bytes (opaque to the coordinator). */
export interface ProtocolMetadata {
  readonly name: string;
  readonly metadata: Uint8Array;
}

/** Who a member is and the timeouts it asked for: as it joins, and as the group record keeps it. */
export interface MemberSettings {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
}

/** A JoinGroup; its memberId is '' for a member joining for the first time. */
export interface JoinGroupCall extends MemberSettings {
  readonly group: string;
  /** "consumer" for consumers. */
  readonly protocolType: string;
  /** In the member's order of preference. */
  readonly protocols: readonly ProtocolMetadata[];
  /** JoinGroup v4+ (KIP-394): a new member first gets MEMBER_ID_REQUIRED with its id. */
  readonly requireKnownMemberId: boolean;
  /**
   * Internal door only (HTTP consumer instances): the id a NEW member takes instead of a
   * generated one (the instance name, unique in its group). Kafka requests never set it.
   */
  readonly proposedMemberId?: string;
}

export interface JoinGroupAnswer {
  readonly error: GroupProtocolError | null;
  readonly generation: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leader: string;
  /** The member's id (also with MEMBER_ID_REQUIRED: the id to rejoin with). */
  readonly memberId: string;
  /** Every member with its metadata for the chosen protocol, for the leader only; empty for the others. */
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null; readonly metadata: Uint8Array }[];
}

export interface SyncGroupCall {
  readonly group: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly generation: number;
  /** SyncGroup v5+: checked against the group's (INCONSISTENT_GROUP_PROTOCOL); null below. */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's assignment of every member; empty from the followers. */
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Uint8Array }[];
}

export interface SyncGroupAnswer {
  readonly error: GroupProtocolError | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** This member's assignment bytes (empty on error). */
  readonly assignment: Uint8Array;
}

export interface GroupHeartbeatCall {
  readonly group: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly generation: number;
}

export interface LeaveGroupCall {
  readonly group: string;
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null }[];
}

export interface LeaveGroupAnswer {
  /** Group-level error (the group is unknown: UNKNOWN_MEMBER_ID for each member instead). */
  readonly error: GroupProtocolError | null;
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null; readonly error: GroupProtocolError | null }[];
}

/** Who commits: a member of a generation, or nobody (generation -1, memberId '': a "simple" commit). */
export interface CommitMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly generation: number;
}

/** One member as DescribeGroups and the v3 view show it. */
export interface ClassicMemberView {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** Its subscription bytes for the group's protocol (empty while none is chosen). */
  readonly metadata: Uint8Array;
  /** Its assignment bytes (empty until the leader's SyncGroup). */
  readonly assignment: Uint8Array;
}

export type ClassicGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** A group as its coordinator holds it (DescribeGroups), plus its committed offsets ("topic:partition" keys). */
export interface ClassicGroupSnapshot {
  readonly state: ClassicGroupState;
  readonly generation: number;
  readonly protocolType: string | null;
  readonly protocol: string | null;
  readonly leader: string | null;
  readonly members: readonly ClassicMemberView[];
  readonly offsets: readonly { readonly key: string; readonly offset: number }[];
}
