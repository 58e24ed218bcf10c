import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ControlledShutdownDeps } from '../../src/broker/controlled-shutdown.ts';
import { controlledShutdown } from '../../src/broker/controlled-shutdown.ts';

/** A broker's view for the decision logic: each test says what the controller and the image do. */
function deps(over: Partial<ControlledShutdownDeps>): ControlledShutdownDeps {
  return {
    askController: () => new Promise(() => {}),
    leaderships: () => 0,
    otherLiveBrokers: () => 2,
    controllerReachable: () => true,
    timeoutMs: 5000,
    noControllerMs: 300,
    log: pino({ level: 'silent' }),
    ...over,
  };
}

async function timed(p: Promise<void>): Promise<number> {
  const t0 = Date.now();
  await p;
  return Date.now() - t0;
}

describe('controlled shutdown', () => {
  it('gives up after noControllerMs when no controller is reachable, though the call never answers', async () => {
    const ms = await timed(controlledShutdown(deps({ controllerReachable: () => false })));
    expect(ms).toBeGreaterThanOrEqual(300);
    expect(ms).toBeLessThan(1500);
  });

  it('waits for the answer while a controller is reachable, up to the overall timeout', async () => {
    const ms = await timed(controlledShutdown(deps({ timeoutMs: 800, askController: () => new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 800)) })));
    expect(ms).toBeGreaterThanOrEqual(790);
  });

  it('does not wait for leaderships the controller could not move', async () => {
    let asked = 0;
    const ms = await timed(controlledShutdown(deps({ askController: () => Promise.resolve({ leaderships: (++asked, 2) }), leaderships: () => 2 })));
    expect(asked).toBe(1);
    expect(ms).toBeLessThan(200);
  });

  it('waits until its own image shows the moved leaderships gone', async () => {
    const t0 = Date.now();
    const ms = await timed(controlledShutdown(deps({ askController: () => Promise.resolve({ leaderships: 0 }), leaderships: () => (Date.now() - t0 < 200 ? 1 : 0) })));
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1000);
  });

  it('asks nothing when no other broker is live', async () => {
    let asked = false;
    await controlledShutdown(deps({ otherLiveBrokers: () => 0, askController: () => ((asked = true), new Promise(() => {})) }));
    expect(asked).toBe(false);
  });
});
