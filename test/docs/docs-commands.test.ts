/**
 * The docs' `sprout …` commands exist as written: every command line in a fenced block of
 * README.md and docs/*.md is parsed by the real CLI (clipanion's own parser, the same one
 * `sprout` runs), so a renamed flag or command fails here, not for the next operator who
 * copies it. Placeholders stay values (`6f1c…`; a bare `<sum>` is read as `1`, which any
 * option takes); `a|b` alternatives and
 * `[--flag]` optional notation are read as their first form. Running them is the lab
 * test's job (test/docs/operator-guide.test.ts runs the operator guide's commands against a control plane).
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildCli } from '../../cli/src/main.ts';
import { docCommands, repo, shellWords } from '@sprout/test-support/doc-commands.ts';

const docs = [
  'README.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

test("every `sprout …` command in the docs parses with the CLI's own parser", async (t) => {
  const commands = docs.flatMap(docCommands);
  t.true(commands.length > 100, `found only ${commands.length} commands: is the extraction broken?`);
  const cli = await buildCli(['--help']);
  const broken: string[] = [];
  for (const c of commands) {
    try {
      cli.process(c.args);
    } catch (err) {
      broken.push(
        `${c.file}:${c.line}: sprout ${c.args.join(' ')}\n    ${(err as Error).message
          .replace(/\x1b\[[0-9;]*m/g, '')
          .split('\n')
          .filter(Boolean)
          .slice(0, 2)
          .join(' / ')}`,
      );
    }
  }
  t.deepEqual(broken, [], `${broken.length} of ${commands.length} documented commands do not parse:\n${broken.join('\n')}`);
});

test('the extraction reads what an operator would copy', (t) => {
  t.deepEqual(shellWords(`sprout machine create "node 01" --tag 'a b' # comment`), ['sprout', 'machine', 'create', 'node 01', '--tag', 'a b']);
  t.deepEqual(shellWords('sprout x --label=a#b'), ['sprout', 'x', '--label=a#b']);
  t.deepEqual(shellWords('sprout lab simulate --dhcp 127.0.0.1:<dhcp port> --mac m'), [
    'sprout',
    'lab',
    'simulate',
    '--dhcp',
    '127.0.0.1:<dhcp port>',
    '--mac',
    'm',
  ]);
});
