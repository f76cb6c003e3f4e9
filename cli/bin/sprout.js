#!/usr/bin/env node
// The `sprout` executable: runs the compiled CLI (cli/dist, which `npm ci` builds) with plain Node.
// From the TypeScript sources instead: node --conditions=sprout-source --import tsx cli/bin/sprout.js …
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  // Answered before any command module loads: scripts and health checks call this often.
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // `sprout agent run` loads that one command (and the agent), not the whole command line: a site
  // agent stays resident for months, and every module it loads stays in its memory.
  const agentRun = argv[0] === 'agent' && argv[1] === 'run';
  let cli;
  try {
    cli = agentRun ? await import('@sprout/cli/agent-main') : await import('@sprout/cli');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('/dist/')) throw err;
    process.stderr.write(`sprout is not built (${err.message.split('\n')[0]}): run \`npm run build\` in the Sprout folder\n`);
    process.exit(1);
  }
  process.exitCode = await (agentRun ? cli.agentMain(argv) : cli.main(argv));
}
