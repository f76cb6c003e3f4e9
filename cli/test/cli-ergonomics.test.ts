/**
 * The rough edges an operator meets first, through the `sprout` binary with stdout a
 * pipe: described flags, no colour codes in pipes, one-line errors, shell completion,
 * paged lists, bulk actions, visible waiting. The tests with a server run one at a time
 * (three servers starting at once on a loaded machine miss their start deadline).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bin, cleanEnv, sprout, startServer } from '@sprout/test-support/processes.ts';
import { buildCli } from '../src/main.ts';

const stackLine = /^\s+at .+[:(]/m;

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-cli-ux-'));
  writeFileSync(join(dir, 'sprout.yaml'), '');
  return dir;
}

test('every flag of every registered command has a description', async (t) => {
  const cli = await buildCli([], false);
  const undescribed: string[] = [];
  let described = 0;
  for (const d of cli.definitions()) {
    described += d.options.length;
    // clipanion moves described options to the Options list; undescribed ones stay on the usage line as `[--site #0]`
    for (const flag of d.usage.match(/[[<]-[^\]>]*[\]>]/g) ?? []) undescribed.push(`${d.path} ${flag}`);
  }
  t.deepEqual(undescribed, []);
  t.true(described > 150, `only ${described} described options found`);
});

test('no ANSI escapes when stdout is a pipe or NO_COLOR is set; FORCE_COLOR still colours', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const piped = await sprout(['--help'], { cwd: dir });
  t.is(piped.code, 0);
  t.true(piped.stdout.includes('sprout machine list'));
  t.false(piped.stdout.includes('\x1b['), 'escape codes in piped --help');
  const usage = await sprout(['machine', 'list', '--help'], { cwd: dir });
  t.false(usage.stdout.includes('\x1b['));
  t.regex(usage.stdout, /--status #0\s+Machine status: new, commissioning, ready/);

  const forced = await sprout(['--help'], { cwd: dir, env: { FORCE_COLOR: '1' } });
  t.true(forced.stdout.includes('\x1b[1m'), 'FORCE_COLOR=1 gives colours (so the check above can fail)');
  t.false(/\x1b\[38;5;(25[6-9]|2[6-9]\d|[3-9]\d\d)m/.test(forced.stdout), 'no colour outside the 256 a terminal has');
  const noColour = await sprout(['--help'], { cwd: dir, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
  t.false(noColour.stdout.includes('\x1b['), 'NO_COLOR wins');
  const syntax = await sprout(['site', 'list', '--bogus'], { cwd: dir });
  t.is(syntax.code, 1);
  t.false(syntax.stderr.includes('\x1b['));
  t.regex(syntax.stderr, /Unsupported option name \("--bogus"\)/, 'usage errors go to stderr');
  t.is(syntax.stdout, '');
});

test('a noun alone, or with --help, lists its commands instead of "Command not found"', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const args of [['artifacts', '--help'], ['artifacts'], ['machine', '-h']]) {
    const run = await sprout(args, { cwd: dir });
    t.is(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    t.notRegex(run.stdout + run.stderr, /Command not found/);
    t.regex(run.stdout, new RegExp(`^The commands of sprout ${args[0]}:\n`));
  }
  const artifacts = await sprout(['artifacts', '--help'], { cwd: dir });
  t.regex(artifacts.stdout, /sprout artifacts build-installer\s+Build the installer/);
  t.regex(artifacts.stdout, /sprout artifacts build-image\s+Build a bootable OS disk image/);
  const unknown = await sprout(['bogus'], { cwd: dir });
  t.is(unknown.code, 1, 'an unknown word is still an error');
});

test('ordinary errors are one line on stderr, exit 1, no stack trace', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = await sprout(['machine', 'import', join(dir, 'nope.csv')], { cwd: dir });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^error: import file .*nope\.csv: no such file\n$/);
  const noLab = await sprout(['lab', 'status', '--dir', join(dir, 'lab')], { cwd: dir });
  t.is(noLab.code, 1);
  t.regex(noLab.stderr, /^error: no lab is running from .*; start one with `sprout lab up`\n$/);
  const badConfig = await sprout(['agent', 'run', '--config', join(dir, 'agent.yaml')], { cwd: dir });
  t.is(badConfig.code, 1);
  t.regex(badConfig.stderr, /^error: --config .*agent\.yaml: no such file\n$/);
  for (const run of [missing, noLab, badConfig]) t.notRegex(run.stderr, stackLine);
});

test.serial('against a server: a refused join and a bad token are one line, the 401 hints at login', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const joined = await sprout(
    ['agent', 'run', '--control-plane', `http://127.0.0.1:${server.port}`, '--join-token-file', '-', '--data-dir', join(server.dir, 'agent')],
    {
      cwd: server.dir,
      input: 'sprout_join_not-a-real-token\n',
    },
  );
  t.is(joined.code, 1);
  t.notRegex(joined.stderr, stackLine);
  t.regex(joined.stderr, /^error: .*join/m);
  t.is(joined.stderr.trim().split('\n').length, 1, joined.stderr);

  const denied = await sprout(['machine', 'list'], { cwd: server.dir, env: { SPROUT_URL: `http://127.0.0.1:${server.port}`, SPROUT_TOKEN: 'sprout_wrong' } });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /\(SPROUT_ERR_UNAUTHENTICATED, HTTP 401\)/);
  t.regex(denied.stderr, /hint: the token came from SPROUT_URL\/SPROUT_TOKEN; log in with `sprout login/);
  t.regex(denied.stderr, /sprout lab status --env/);
});

test.serial('lists: a cut-short page says so on stderr, --cursor continues, --json carries the cursor; bad --status and --since are refused', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const run = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
  t.is((await run('site', 'create', 'dc1')).code, 0);
  for (const [name, mac] of [
    ['node-01', '52:54:00:ee:00:01'],
    ['node-02', '52:54:00:ee:00:02'],
    ['node-03', '52:54:00:ee:00:03'],
  ]) {
    const made = await run('machine', 'create', name, '--site', 'dc1', '--mac', mac, ...(name === 'node-03' ? [] : ['--tag', 'rack1']));
    t.is(made.code, 0, made.stderr);
  }
  const first = await run('machine', 'list', '--site', 'dc1', '--limit', '2');
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /node-01[\s\S]*node-02/);
  t.false(first.stdout.includes('node-03'));
  const notice = /^note: showing 2, more remain; next page: sprout machine list --site dc1 --limit 2 --cursor (\S+) \(or --all for everything\)$/m.exec(
    first.stderr,
  );
  t.truthy(notice, first.stderr);
  const rest = await run('machine', 'list', '--site', 'dc1', '--limit', '2', '--cursor', notice![1]);
  t.regex(rest.stdout, /node-03/);
  t.false(rest.stdout.includes('node-01'));
  t.is(rest.stderr, '', 'the last page has no notice');
  const json = JSON.parse((await run('machine', 'list', '--limit', '2', '--json')).stdout);
  t.is(json.items.length, 2);
  t.is(json.nextCursor, notice![1]);
  t.is(JSON.parse((await run('machine', 'list', '--limit', '2', '--all', '--json')).stdout).items.length, 3);

  const badStatus = await run('machine', 'list', '--status', 'bogus');
  t.is(badStatus.code, 1);
  t.regex(badStatus.stderr, /--status.*expected one of .*"new".*"failed_deployment"/);
  t.regex((await run('workflow', 'list', '--state', 'stuck')).stderr, /--state.*expected one of .*"running"/);

  for (const since of ['1h', '30m', '2d', 'yesterday', 'today', new Date().toISOString().slice(0, 10), '2026-01-01T00:00:00Z']) {
    const audit = await run('audit', 'list', '--since', since, '--action', 'machine.create', '--json');
    t.is(audit.code, 0, `${since}: ${audit.stderr}`);
    t.is(JSON.parse(audit.stdout).items.length, 3, `--since ${since}`);
  }
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  t.deepEqual(JSON.parse((await run('audit', 'list', '--since', tomorrow, '--json')).stdout).items, []);
  const badSince = await run('audit', 'list', '--since', 'last tuesday');
  t.is(badSince.code, 1);
  t.regex(badSince.stderr, /^error: --since "last tuesday" is not a time: use a duration ago \(30m, 1h, 2d, 1w\), today, yesterday, or an ISO date/);
});

test('sprout completion bash: a script bash loads, offering commands, subcommands and flags', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shell = (script: string) =>
    promisify(execFile)('bash', ['-c', `source <("${process.execPath}" "${bin}" completion bash) && ${script}`], { cwd: dir, env: cleanEnv() }).then(
      (r) => r.stdout,
    );
  t.regex(await shell('complete -p sprout'), /complete .*-F _sprout sprout/);
  const offer = (...words: string[]) =>
    shell(`COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _sprout; printf '%s\\n' "\${COMPREPLY[@]}"`);
  t.deepEqual((await offer('sprout', 'ma')).trim().split('\n'), ['machine']);
  t.true((await offer('sprout', 'machine', '')).split('\n').includes('commission'));
  t.deepEqual((await offer('sprout', 'machine', 'list', '--st')).trim().split('\n'), ['--status']);
  const bad = await sprout(['completion', 'fish'], { cwd: dir });
  t.is(bad.code, 1);
});

test('sprout completion zsh: zsh registers it with compinit and it offers commands, subcommands and flags', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const zsh = await sprout(['completion', 'zsh'], { cwd: dir });
  t.is(zsh.code, 0);
  t.regex(zsh.stdout, /^#compdef sprout/);
  writeFileSync(join(dir, '_sprout'), zsh.stdout);
  // compinit registers the function for the command; compadd is a builtin that works only inside a
  // completion widget, so the offers are read by standing in for it (zsh itself filters them by prefix)
  const shell = (script: string) =>
    promisify(execFile)(
      'zsh',
      [
        '-f',
        '-c',
        `autoload -U compinit && compinit -u -D && source ./_sprout && compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" } && _files() { print FILES } && ${script}`,
      ],
      { cwd: dir, env: cleanEnv() },
    ).then((r) => r.stdout.trim().split('\n'));
  t.deepEqual(await shell('print -r -- ${_comps[sprout]}'), ['_sprout']);
  const offer = (...words: string[]) => shell(`words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _sprout`);
  t.true((await offer('sprout', 'ma')).includes('machine'));
  t.true((await offer('sprout', 'machine', '')).includes('commission'));
  t.false((await offer('sprout', 'machine', '')).includes('machine'), 'a subcommand level offers its own words only');
  const flags = await offer('sprout', 'machine', 'list', '--st');
  t.true(flags.includes('--status'));
  t.false(flags.includes('--mac'), 'machine list has no --mac flag');
  t.deepEqual(await offer('sprout', 'machine', 'show', 'node-01'), ['FILES'], 'an argument word falls back to file names');
});

test.serial('bulk actions: several machines or --tag, a row per machine, exit 1 if any failed, --json an array', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const run = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
  t.is((await run('site', 'create', 'dc1')).code, 0);
  for (const [name, mac] of [
    ['node-01', '52:54:00:ef:00:01'],
    ['node-02', '52:54:00:ef:00:02'],
    ['node-03', '52:54:00:ef:00:03'],
  ]) {
    t.is((await run('machine', 'create', name, '--site', 'dc1', '--mac', mac, ...(name === 'node-03' ? [] : ['--tag', 'rack1']))).code, 0);
  }
  const released = await run('machine', 'release', '--tag', 'rack1');
  t.is(released.code, 1, 'new machines cannot be released: every row failed');
  t.regex(released.stdout, /^MACHINE\s+WORKFLOW\s+STATE\s+ERROR$/m);
  t.regex(released.stdout, /^node-01\s+-\s+-\s+.*release.*\(SPROUT_ERR_/m);
  t.regex(released.stdout, /^node-02\s+-\s+-\s+/m);
  t.false(released.stdout.includes('node-03'), '--tag picks only tagged machines');
  t.regex(released.stdout, /^0 of 2 started$/m);

  const mixed = await run('machine', 'commission', 'node-01', 'node-03', 'no-such-node', '--no-hwtest', '--json');
  t.is(mixed.code, 1);
  const rows = JSON.parse(mixed.stdout);
  t.deepEqual(
    rows.map((r: any) => [r.machine, r.ok]),
    [
      ['node-01', true],
      ['node-03', true],
      ['no-such-node', false],
    ],
  );
  t.regex(rows[0].workflow, /^[0-9a-f-]{36}$/);
  t.regex(rows[2].error, /no machine "no-such-node"/);

  // waiting is visible: the step, for how long, for what; then "cancel requested"
  const shown = await run('workflow', 'show', rows[0].workflow.slice(0, 8));
  t.is(shown.code, 0, shown.stderr);
  t.false(shown.stdout.includes('\x1b'));
  t.regex(shown.stdout, /^now: check-bmc (dispatched|running) for \d+ (s|min)\b.* — waiting for an agent at site dc1$/m);
  const machine = await run('machine', 'show', 'node-01');
  t.regex(machine.stdout, /^\s+now: check-bmc — waiting for an agent at site dc1\n\s+(dispatched|running) for \d+ (s|min)/m);

  // On a terminal (`script` gives it one), --watch keeps a ticker line under the steps that
  // counts the wait, redrawn in place and erased before the next line; piped, no escapes at all.
  const command = [process.execPath, bin, 'workflow', 'watch', rows[0].workflow, '--timeout', '3'].map((w) => `'${w}'`).join(' ');
  const tty = await promisify(execFile)('script', ['-qec', command, '/dev/null'], { cwd: server.dir, env: { ...server.env, COLUMNS: '200' } }).catch(
    (err) => err,
  );
  t.is(tty.code, 1, 'gave up after --timeout');
  const ticks = [...tty.stdout.matchAll(/… check-bmc dispatched for (\d+) s — waiting for an agent at site dc1/g)].map((m: RegExpMatchArray) => Number(m[1]));
  t.true(ticks.length >= 2, `ticker redrawn: ${JSON.stringify(tty.stdout)}`);
  t.true(ticks.at(-1)! > ticks[0]!, 'the ticker counts on between polls');
  t.regex(tty.stdout, /check-bmc\s+dispatched/);
  t.regex(tty.stdout, /\r\x1b\[2Kerror: gave up following workflow/, 'the ticker is erased before the last line');
  const piped = await run('workflow', 'watch', rows[0].workflow, '--timeout', '2');
  t.is(piped.code, 1);
  t.false(piped.stdout.includes('\x1b') || piped.stdout.includes('\r'), 'no ticker into a pipe');
  t.regex(piped.stdout, /check-bmc\s+dispatched/);

  const none = await run('machine', 'commission', '--tag', 'rack9');
  t.is(none.code, 1);
  t.regex(none.stderr, /^error: --tag "rack9": no machine has this tag$/m);
  const nothing = await run('machine', 'deploy', '--image', 'x');
  t.is(nothing.code, 1);
  t.regex(nothing.stderr, /machine is required/);
});
