import { describe, expect, it } from 'vitest';
import { parseControllerCall } from '../../src/metadata/controller-calls.ts';

describe('controller calls over rpc', () => {
  it('carries createPartitions with and without assignments, and refuses assignments that are not lists of broker ids', () => {
    expect(parseControllerCall({ method: 'createPartitions', name: 't', count: 4 })).toEqual({ method: 'createPartitions', name: 't', count: 4 });
    const assigned = { method: 'createPartitions', name: 't', count: 5, assignments: [[3, 1], [2, 3]] };
    expect(parseControllerCall(assigned)).toEqual(assigned);
    expect(() => parseControllerCall({ ...assigned, assignments: [[3, 'x']] })).toThrow(/assignments\[0\]: must be a list of integers/);
    expect(() => parseControllerCall({ ...assigned, assignments: 7 })).toThrow(/assignments: must be a list/);
    expect(() => parseControllerCall({ method: 'createPartitions', name: 't' })).toThrow(/count/);
  });
});
