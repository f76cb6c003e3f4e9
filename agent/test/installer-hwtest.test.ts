/**
 * A plugin's script hardware test as the real installer runs it (agent/installer/hwtest.sh,
 * sourced by /init), under the installer's own busybox: the metadata's
 * SPROUT_HWTEST_SCRIPT_<i>/SPROUT_HWTEST_TIMEOUT_<i> run with `sh`, judged by the exit
 * status, a script past its timeout failed as timed out (and what it started is ended),
 * and the last 2 KiB of stdout and stderr kept as the result's output. Not covered here:
 * delivery through a booted installer (the QEMU end-to-end test's job).
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '@sprout/test-support/until.ts';
import { installerScripts } from '../src/installer/build.ts';
import { fakeMachine, runOn, type FakeMachine } from './installer-fake-machine.ts';

/** Runs test number 1 with the given script and timeout; answers its STATUS and OUTPUT. */
async function scriptTest(m: FakeMachine, script: string, timeoutSeconds: number): Promise<{ status: string; output: string; stderr: string }> {
  const run = await runOn(m, `. ${installerScripts.hwtest}\nscript_test 1\necho "$STATUS"\nprintf '%s' "$OUTPUT"\n`, {
    SPROUT_HWTESTS: 'burnin',
    SPROUT_HWTEST_SCRIPT_1: script,
    SPROUT_HWTEST_TIMEOUT_1: String(timeoutSeconds),
  });
  const [status, ...output] = run.stdout.split('\n');
  return { status, output: output.join('\n'), stderr: run.stderr };
}

test('a script that exits 0 passes with its output', async (t) => {
  const m = await fakeMachine(t);
  const run = await scriptTest(m, 'echo burn-in marker 7f3a\necho "to stderr" >&2\nexit 0', 30);
  t.is(run.status, 'passed', run.stderr);
  t.is(run.output, 'burn-in marker 7f3a\nto stderr');
});

test('a script that exits 1 fails, reporting its exit status and the last 2 KiB of its output', async (t) => {
  const m = await fakeMachine(t);
  // 100 numbered lines of 40 bytes: more than 2 KiB, so the first lines are cut.
  const run = await scriptTest(
    m,
    'i=0\nwhile [ $i -lt 100 ]; do i=$((i + 1)); printf "line %03d: the burn-in saw an error here.\\n" $i; done\necho "ECC error on DIMM A1" >&2\nexit 1',
    30,
  );
  t.is(run.status, 'failed', run.stderr);
  t.true(run.output.startsWith('exit status 1; output: '), run.output);
  const tail = run.output.slice('exit status 1; output: '.length);
  t.true(tail.length <= 2048, `${tail.length} bytes kept`);
  t.true(tail.endsWith('line 100: the burn-in saw an error here.\nECC error on DIMM A1'), tail);
  t.false(tail.includes('line 001:'), 'the head of a long output is cut');
});

test('a script that runs past its timeout fails as timed out, and what it started is ended', async (t) => {
  const m = await fakeMachine(t);
  const pidFile = join(m.root, 'sleeper.pid');
  const started = Date.now();
  const run = await scriptTest(m, `echo warming up\nsleep 300 &\necho $! > ${pidFile}\nwait`, 2);
  t.is(run.status, 'failed', run.stderr);
  t.is(run.output, 'timed out after 2 s; output: warming up');
  t.true(Date.now() - started < 60_000, 'it did not wait for the script');
  t.true(existsSync(pidFile), 'the script ran');
  const pid = readFileSync(pidFile, 'utf8').trim();
  // Gone, or a zombie about to be reaped: not left sleeping.
  const ended = () => {
    try {
      return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true;
    }
  };
  await until(`the script's sleep ${pid} to end`, async () => ended(), 10_000);
});

test('a test without a script in the metadata is left to the builtin routines', async (t) => {
  const m = await fakeMachine(t);
  const run = await runOn(m, `. ${installerScripts.hwtest}\nif hwtest_script 2; then echo script; else echo builtin; fi\nhwtest_script 1\n`, {
    SPROUT_HWTEST_SCRIPT_1: 'echo one',
  });
  t.is(run.stdout, 'builtin\necho one\n');
});
