/**
 * docs/operator-guide.md, followed as a new operator would: every fenced `sprout …` command
 * of the guide runs, in the guide's order, against a fresh control plane (its CSV example
 * is the file `machine import` reads), and must succeed — unless this file names why it
 * cannot run here (it needs a real BMC, a site agent, or a file on an agent's host) or
 * what failure the guide itself describes. A command added to the guide runs here too;
 * a command that stops working fails this test with its own output.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { docCommands, repo } from '@sprout/test-support/doc-commands.ts';
import { sprout, startServer } from '@sprout/test-support/processes.ts';

/** Commands that cannot run against a control plane alone, by the start of their text. */
const notHere: [prefix: string, why: string][] = [
  ['sprout machine commission node-01 node-02 node-03', 'a bulk example over machines the guide never creates'],
  ['sprout machine release --tag rack1 --watch', 'a bulk example: releases deployed machines, and the guide deploys none'],
  ['sprout machine power status node-01      #', 'asks the BMC at 10.0.0.11 through the site agent'],
  ['sprout machine power on|cycle', "needs the site's agent and a BMC"],
  ['sprout machine power off', "needs the site's agent and a BMC"],
  ['sprout workflow watch', 'follows a workflow that only an agent at fra1 would move'],
  ['sprout machine commission node-01 --watch', 'waits for an agent at fra1'],
  ['sprout image import /srv/', "a file on the agent's host"],
  ['sprout image import https://', 'the site agent fetches it'],
  ['sprout image remove', 'an image the site would hold'],
];

/** Failures the guide itself describes, and the words they must carry. */
const expectedFailures: [prefix: string, words: RegExp][] = [['sprout machine allocate --site fra1 --tag gpu', /no ready machine matches/]];

/** What runs before a command: the guide shows `machine create node-01` twice (without and with a BMC), as alternatives. */
const before: [prefix: string, args: string[]][] = [
  ['sprout machine create node-01 --site fra1 --mac 52:54:00:12:34:56 --bmc-type', ['machine', 'delete', 'node-01']],
];

/** The guide's ```csv example, as the file its `machine import rack1.csv` reads. */
function guideCsv(): string {
  const text = readFileSync(join(repo, 'docs/operator-guide.md'), 'utf8');
  const block = /```csv\n([\s\S]*?)```/.exec(text);
  if (!block) throw new Error('docs/operator-guide.md has no ```csv block for `machine import rack1.csv`');
  return block[1]!;
}

test('the operator guide, followed command by command, works against a control plane', async (t) => {
  t.timeout(5 * 60_000);
  const server = await startServer();
  t.teardown(() => server.stop());
  writeFileSync(join(server.dir, 'rack1.csv'), guideCsv());
  writeFileSync(join(server.dir, 'bmc.pass'), 'bmc-secret\n', { mode: 0o600 });
  const cli = (args: string[], input?: string) => sprout(args, { cwd: server.dir, env: server.env, ...(input === undefined ? {} : { input }) });
  const matches = (text: string, prefix: string) => text.replace(/\s+/g, ' ').startsWith(prefix.replace(/\s+/g, ' '));

  const commands = docCommands('docs/operator-guide.md');
  t.true(commands.length >= 15, `the guide has only ${commands.length} commands: is the extraction broken?`);
  let workflowId: string | undefined;
  const ran: string[] = [];
  const problems: string[] = [];
  for (const command of commands) {
    const skip = notHere.find(([prefix]) => matches(command.text, prefix));
    if (skip) {
      t.log(`not run (${skip[1]}): ${command.text}`);
      continue;
    }
    for (const [prefix, args] of before) if (matches(command.text, prefix)) await cli(args);
    // The guide's workflow ids are placeholders (`6f1c…`): the workflow the guide started is meant.
    // A short one (`6f1c`) is the same length of the real id: the guide shows that prefixes work.
    const args = command.args.map((a) =>
      /^[0-9a-f]{2,}…$/.test(a) && workflowId
        ? workflowId
        : command.args[0] === 'workflow' && /^[0-9a-f]{4,8}$/.test(a) && workflowId
          ? workflowId.slice(0, a.length)
          : a,
    );
    const input = args.includes('-') ? 'new-bmc-secret\n' : undefined;
    const run = await cli(args, input);
    ran.push(command.text);
    const expected = expectedFailures.find(([prefix]) => matches(command.text, prefix));
    const out = `${run.stdout}${run.stderr}`;
    if (expected) {
      if (run.code === 0 || !expected[1].test(out))
        problems.push(
          `${command.file}:${command.line}: ${command.text}\n  expected to fail with ${expected[1]}, exit ${run.code}: ${out.trim().slice(0, 400)}`,
        );
    } else if (run.code !== 0) {
      problems.push(`${command.file}:${command.line}: ${command.text}\n  exit ${run.code}: ${out.trim().slice(0, 400)}`);
    }
    const started = /"id":\s*"([0-9a-f-]{36})"[\s\S]*"kind":\s*"commission"/.exec(run.stdout) ?? /workflow ([0-9a-f-]{36})/.exec(out);
    if (started) workflowId = started[1];
  }
  t.deepEqual(problems, [], problems.join('\n'));
  t.true(ran.length >= 12, `only ${ran.length} of the guide's commands ran:\n${ran.join('\n')}`);
  t.truthy(workflowId, 'the guide starts a commissioning workflow and shows it');
});
