import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chooseLogFormat } from '../../src/log-format.ts';
import { componentLogger, createRootLogger } from '../../src/logger.ts';

/** A destination that keeps what is written to it. */
function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

describe('log format', () => {
  it.each([
    { flag: undefined, tty: true, format: 'pretty' },
    { flag: undefined, tty: false, format: 'json' },
    { flag: 'json', tty: true, format: 'json' },
    { flag: 'json', tty: false, format: 'json' },
    { flag: 'pretty', tty: true, format: 'pretty' },
    { flag: 'pretty', tty: false, format: 'pretty' },
  ] as const)('--log-format $flag with stdout a TTY: $tty -> $format', ({ flag, tty, format }) => {
    expect(chooseLogFormat(flag, tty)).toBe(format);
  });

  it('json: one JSON object a line with nodeId and component', () => {
    const out = capture();
    const root = createRootLogger({ nodeId: 4, level: 'info', format: 'json', destination: out.stream });
    componentLogger(root, 'raft').info({ term: 2 }, 'became leader');
    expect(JSON.parse(out.text())).toMatchObject({ nodeId: 4, component: 'raft', term: 2, msg: 'became leader', level: 30 });
  });

  it('pretty: one uncolored line with level, node, component, message and fields when colors are off', () => {
    const out = capture();
    const root = createRootLogger({ nodeId: 4, level: 'info', format: 'pretty', destination: out.stream, colorize: false });
    componentLogger(root, 'raft').warn({ term: 2 }, 'lost leadership');
    expect(out.text()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: node-4 raft: lost leadership \{"term":2\}\n$/);
  });

  it('pretty: colored when asked', () => {
    const out = capture();
    const root = createRootLogger({ nodeId: 4, level: 'info', format: 'pretty', destination: out.stream, colorize: true });
    root.info('node started');
    expect(out.text()).toContain('\u001b[32mINFO\u001b[39m');
    expect(out.text()).toContain('node-4 node started');
  });
});
