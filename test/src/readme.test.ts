import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown } from '../../src/config/schema.ts';

describe('README', () => {
  it('carries the configuration reference generated from the schema', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configReferenceMarkdown());
  });

  it('gives the two-line quick start', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toMatch(/^npm ci && npm start\b/m);
    expect(readme).toMatch(/^npm ci && npm test\b/m);
  });
});
