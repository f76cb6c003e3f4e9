#!/usr/bin/env node
// The `sprout` executable: runs the TypeScript sources through tsx (no build step).
// The kernel's big ESM-only dependencies load first, without tsx's loader (less memory, faster start).
await import('@sprout/kernel/preload');
const { register } = await import('tsx/esm/api');

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
