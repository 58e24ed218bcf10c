#!/usr/bin/env node
// `npx runnel ...`: load the TypeScript sources through tsx, then run the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
