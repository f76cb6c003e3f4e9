import test from 'ava';
import { judge } from '../src/catalogue.ts';

const passed = (name: string, facts: Record<string, unknown>) => ({ name, status: 'passed' as const, durationMs: 5, output: 'ok', facts });

test('fewer CPUs than expected fails cpu-inventory with both numbers', (t) => {
  const result = judge(passed('cpu-inventory', { cpus: 2 }), { cpus: 4 });
  t.is(result.status, 'failed');
  t.regex(result.output, /expected cpus >= 4, found 2/);
});

test('memory within the firmware tolerance passes; far below fails', (t) => {
  t.is(judge(passed('memory-size', { memoryMiB: 3900 }), { memoryMiB: 4096 }).status, 'passed');
  t.is(judge(passed('memory-size', { memoryMiB: 2048 }), { memoryMiB: 4096 }).status, 'failed');
});

test('a missing disk count fails disk-presence when disks are expected', (t) => {
  t.is(judge(passed('disk-presence', {}), { disks: 1 }).status, 'failed');
  t.is(judge(passed('disk-presence', { disks: 2 }), { disks: 1 }).status, 'passed');
});

test('a failure reported by the installer is never turned into a pass', (t) => {
  const failed = { name: 'smart', status: 'failed' as const, durationMs: 1, output: 'reallocated sectors' };
  t.deepEqual(judge(failed, {}), failed);
});
