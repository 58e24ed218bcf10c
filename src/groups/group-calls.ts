// The group coordinator's rpc surface: the calls any node sends to a group's coordinator, their
// shape checks at the handler, and the checks of the answers the callers read.

import { invalid } from '../errors.ts';
import type { RpcMethod } from '../rpc/rpc-method.ts';
import type { Fields } from '../rpc/wire-shape.ts';
import { bool, bytes, fields, int, listOf, str, strings, strOrNull } from '../rpc/wire-shape.ts';
import type { ClassicGroupSnapshot, ClassicGroupState, CommitMember, GroupProtocolError, JoinGroupAnswer, JoinGroupCall, LeaveGroupAnswer, ProtocolMetadata, SyncGroupAnswer, SyncGroupCall } from './classic-calls.ts';
import type { TopicPartition } from './assignor.ts';
import type { CommittedOffset, GroupCall } from './group-coordinator.ts';

export function parseTopicPartition(v: unknown, what: string): TopicPartition {
  const o = fields(v, what);
  return { topic: str(o, 'topic'), partition: int(o, 'partition') };
}

function parseCommittedOffset(v: unknown, what: string): CommittedOffset {
  const o = fields(v, what);
  return { topic: str(o, 'topic'), partition: int(o, 'partition'), offset: int(o, 'offset'), metadata: str(o, 'metadata') };
}

/** A call that arrived over rpc: check its shape before it reaches the coordinator. */
export function parseGroupCall(payload: unknown): GroupCall {
  const p = fields(payload, 'call');
  const op = p['op'];
  if (op === 'list') return { op };
  const group = str(p, 'group');
  switch (op) {
    case 'register':
      return { op, group, instance: str(p, 'instance'), nodeId: int(p, 'nodeId') };
    case 'unregister':
    case 'locate':
      return { op, group, instance: str(p, 'instance') };
    case 'alterOffsets':
      return { op, group, offsets: listOf(p, 'offsets', parseCommittedOffset) };
    case 'fetch':
      return p['partitions'] === undefined ? { op, group } : { op, group, partitions: listOf(p, 'partitions', parseTopicPartition) };
    case 'describeClassic':
    case 'deleteGroup':
      return { op, group };
    case 'deleteOffsets':
      return { op, group, partitions: listOf(p, 'partitions', parseTopicPartition) };
    case 'join':
      return { op, group, join: parseJoin(p['join'], group) };
    case 'sync':
      return { op, group, sync: parseSync(p['sync'], group) };
    case 'memberHeartbeat': {
      const hb = fields(p['hb'], 'hb');
      return { op, group, hb: { group, memberId: str(hb, 'memberId'), groupInstanceId: strOrNull(hb, 'groupInstanceId'), generation: int(hb, 'generation') } };
    }
    case 'memberLeave': {
      const leave = fields(p['leave'], 'leave');
      return { op, group, leave: { group, members: listOf(leave, 'members', (v, what) => ({ memberId: str(fields(v, what), 'memberId'), groupInstanceId: strOrNull(fields(v, what), 'groupInstanceId') })) } };
    }
    case 'memberCommit':
      return { op, group, member: parseCommitMember(p['member']), offsets: listOf(p, 'offsets', parseCommittedOffset) };
    default:
      throw invalid('op', `unknown group call ${String(op)}`);
  }
}

function parseProtocol(v: unknown, what: string): ProtocolMetadata {
  const o = fields(v, what);
  return { name: str(o, 'name'), metadata: bytes(o, 'metadata') };
}

/** The classic calls name their group inside (JoinGroupCall.group); the rpc envelope's `group` routes them and must agree. */
function parseJoin(v: unknown, group: string): JoinGroupCall {
  const o = fields(v, 'join');
  if (str(o, 'group') !== group) throw invalid('join.group', 'must be the group the call is routed to');
  const proposed = o['proposedMemberId'];
  return {
    group,
    memberId: str(o, 'memberId'),
    groupInstanceId: strOrNull(o, 'groupInstanceId'),
    clientId: str(o, 'clientId'),
    clientHost: str(o, 'clientHost'),
    sessionTimeoutMs: int(o, 'sessionTimeoutMs'),
    rebalanceTimeoutMs: int(o, 'rebalanceTimeoutMs'),
    protocolType: str(o, 'protocolType'),
    protocols: listOf(o, 'protocols', parseProtocol),
    requireKnownMemberId: bool(o, 'requireKnownMemberId'),
    ...(proposed === undefined || proposed === null ? {} : { proposedMemberId: str(o, 'proposedMemberId') }),
  };
}

function parseSync(v: unknown, group: string): SyncGroupCall {
  const o = fields(v, 'sync');
  if (str(o, 'group') !== group) throw invalid('sync.group', 'must be the group the call is routed to');
  return {
    group,
    memberId: str(o, 'memberId'),
    groupInstanceId: strOrNull(o, 'groupInstanceId'),
    generation: int(o, 'generation'),
    protocolType: strOrNull(o, 'protocolType'),
    protocolName: strOrNull(o, 'protocolName'),
    assignments: listOf(o, 'assignments', (a, what) => ({ memberId: str(fields(a, what), 'memberId'), assignment: bytes(fields(a, what), 'assignment') })),
  };
}

function parseCommitMember(v: unknown): CommitMember {
  const o = fields(v, 'member');
  return { memberId: str(o, 'memberId'), groupInstanceId: strOrNull(o, 'groupInstanceId'), generation: int(o, 'generation') };
}

/** rpc `group`: runs a GroupCall on the group's coordinator. Answers differ by op: the parsers below read them. */
export const GROUP_RPC: RpcMethod<GroupCall, unknown> = {
  name: 'group',
  parseRequest: parseGroupCall,
  parseResponse: (payload) => payload,
};

export function parseLocateAnswer(payload: unknown): number {
  return int(fields(payload, 'locate answer'), 'nodeId');
}

export function parseGroupList(payload: unknown): string[] {
  return strings({ groups: payload }, 'groups');
}

export function parseFetchedOffsets(payload: unknown): CommittedOffset[] {
  return listOf(fields(payload, 'fetch answer'), 'offsets', parseCommittedOffset);
}

const GROUP_STATES: ReadonlySet<string> = new Set<ClassicGroupState>(['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead']);

/** A group as its coordinator describes it (members with their subscription and assignment bytes, committed offsets). */
export function parseGroupSnapshot(payload: unknown): ClassicGroupSnapshot {
  const o = fields(payload, 'describe answer');
  const state = o['state'];
  if (typeof state !== 'string' || !GROUP_STATES.has(state)) throw invalid('state', 'must be a group state');
  return {
    state: state as ClassicGroupState,
    generation: int(o, 'generation'),
    protocolType: strOrNull(o, 'protocolType'),
    protocol: strOrNull(o, 'protocol'),
    leader: strOrNull(o, 'leader'),
    members: listOf(o, 'members', (v, what) => {
      const m = fields(v, what);
      return { memberId: str(m, 'memberId'), groupInstanceId: strOrNull(m, 'groupInstanceId'), clientId: str(m, 'clientId'), clientHost: str(m, 'clientHost'), metadata: bytes(m, 'metadata'), assignment: bytes(m, 'assignment') };
    }),
    offsets: listOf(o, 'offsets', (v, what) => {
      const e = fields(v, what);
      return { key: str(e, 'key'), offset: int(e, 'offset') };
    }),
  };
}

// ---- answers of the classic calls, checked where they arrive (GroupClient) ----------------

const PROTOCOL_ERRORS: ReadonlySet<string> = new Set<GroupProtocolError>([
  'MEMBER_ID_REQUIRED',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
  'INCONSISTENT_GROUP_PROTOCOL',
  'INVALID_SESSION_TIMEOUT',
  'GROUP_MAX_SIZE_REACHED',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'INVALID_GROUP_ID',
  'UNKNOWN_SERVER_ERROR',
]);

function protocolError(o: Fields, k: string): GroupProtocolError | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || !PROTOCOL_ERRORS.has(v)) throw invalid(k, 'must be a group protocol error name or null');
  return v as GroupProtocolError;
}

export function parseErrorAnswer(payload: unknown): GroupProtocolError | null {
  return protocolError(fields(payload, 'answer'), 'error');
}

export function parseJoinAnswer(payload: unknown): JoinGroupAnswer {
  const o = fields(payload, 'join answer');
  return {
    error: protocolError(o, 'error'),
    generation: int(o, 'generation'),
    protocolType: strOrNull(o, 'protocolType'),
    protocolName: strOrNull(o, 'protocolName'),
    leader: str(o, 'leader'),
    memberId: str(o, 'memberId'),
    members: listOf(o, 'members', (v, what) => {
      const m = fields(v, what);
      return { memberId: str(m, 'memberId'), groupInstanceId: strOrNull(m, 'groupInstanceId'), metadata: bytes(m, 'metadata') };
    }),
  };
}

export function parseSyncAnswer(payload: unknown): SyncGroupAnswer {
  const o = fields(payload, 'sync answer');
  return { error: protocolError(o, 'error'), protocolType: strOrNull(o, 'protocolType'), protocolName: strOrNull(o, 'protocolName'), assignment: bytes(o, 'assignment') };
}

export function parseLeaveAnswer(payload: unknown): LeaveGroupAnswer {
  const o = fields(payload, 'leave answer');
  return {
    error: protocolError(o, 'error'),
    members: listOf(o, 'members', (v, what) => {
      const m = fields(v, what);
      return { memberId: str(m, 'memberId'), groupInstanceId: strOrNull(m, 'groupInstanceId'), error: protocolError(m, 'error') };
    }),
  };
}
