/**
 * The contract every power driver passes, judged by what the machine really does as
 * seen from outside the driver (the VM process an IPMI simulator starts, a QEMU VM's
 * QMP status, the lab simulator's switch) — never by the driver's own word. A driver
 * package runs it from its own test file:
 *
 *   powerContract(test, { title: 'ipmi against ipmi_sim', setup: async () => subject });
 *
 * A driver that powers machines itself (`manual` false) must: read the real state; power
 * on, off (hard; soft is accepted) and cycle; be idempotent for on/off; set the next boot
 * device to network once and to disk; check credentials; refuse wrong credentials with
 * `PowerError('auth')` carrying the BMC's words; and fail an unreachable BMC with
 * `unreachable` or `timeout` within the call's timeout. A manual driver must do nothing
 * itself and say, naming the machine, what a person has to do.
 */
import type { ExecutionContext, TestFn } from 'ava';
import { PowerError, type BootDevice, type PowerDriver, type PowerTarget } from '../capabilities/power.ts';

export interface PowerContractSubject {
  driver: PowerDriver;
  /** A machine the driver controls, powered off when setup resolves. */
  target: PowerTarget;
  /** The machine as seen from outside the driver. Absent for a manual driver. */
  observe?: {
    power(): Promise<'on' | 'off'>;
    /** How many times the machine was started (power-on or reset) so far. */
    boots(): Promise<number>;
    /** The device the machine boots from next, as the BMC recorded it. */
    nextBoot(): Promise<BootDevice | 'unknown'>;
  };
  /** The same machine with a wrong password (absent: the BMC accepts any, e.g. IPMI cipher suite 0). */
  wrongCredentials?: PowerTarget;
  /** A machine whose BMC does not answer (e.g. an address nothing listens on). */
  unreachable?: PowerTarget;
}

export interface PowerContractOptions {
  title: string;
  setup(): Promise<PowerContractSubject>;
  teardown?(): Promise<void>;
  /** Per-call timeout handed to the driver (default 20 s; ipmitool's retries are slow). */
  callTimeoutMs?: number;
  /** How long the machine may take to show a change from outside (default 20 s). */
  settleMs?: number;
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    value = await probe();
  }
  return value;
}

export function powerContract(test: TestFn, options: PowerContractOptions): void {
  let subject: PowerContractSubject;
  const call = { timeoutMs: options.callTimeoutMs ?? 20_000 };
  const settle = options.settleMs ?? 20_000;
  test.before(async () => {
    subject = await options.setup();
  });
  test.after.always(async () => {
    await options.teardown?.();
  });
  const title = (what: string) => `${options.title}: ${what}`;
  // One machine: the steps run in order, each starting where the last one left it.
  const serial = test.serial;

  serial(title('the driver serves the bmc.type it is registered under'), (t) => {
    t.is(subject.driver.type, subject.target.bmc.type);
  });

  serial(title('a manual driver does nothing itself and names the machine and what to do'), async (t) => {
    const { driver, target } = subject;
    if (!driver.manual) {
      // A driver that works the power itself knows the state, and never asks a person.
      t.true(['on', 'off'].includes(await driver.state(target, call)));
      t.is((await driver.setNextBoot(target, 'network', call)).awaitsPerson, undefined);
      return;
    }
    t.is(await driver.state(target, call), 'unknown');
    t.deepEqual(await driver.checkCredentials(target, call), { state: 'unknown' });
    const on = await driver.on(target, call);
    t.regex(on.awaitsPerson ?? '', new RegExp(`power on ${target.hostname}\\b.*manual power driver`));
    const cycle = await driver.cycle(target, call);
    t.regex(cycle.awaitsPerson ?? '', new RegExp(`${target.hostname}\\b`));
    const off = await driver.off(target, call);
    t.regex(off.awaitsPerson ?? '', new RegExp(`power off ${target.hostname}\\b`));
  });

  const powered = (
    name: string,
    body: (t: ExecutionContext, s: PowerContractSubject & { observe: NonNullable<PowerContractSubject['observe']> }) => Promise<void>,
  ) =>
    serial(title(name), async (t) => {
      if (subject.driver.manual || !subject.observe) {
        // A manual driver has no machine to observe: the manual test above is its contract.
        t.true(subject.driver.manual === true, 'only a manual driver may come without an observer');
        return;
      }
      await body(t, subject as never);
    });

  powered('reads the state of a machine that is off', async (t, { driver, target, observe }) => {
    t.is(await observe.power(), 'off', 'the subject starts with the machine off');
    t.is(await driver.state(target, call), 'off');
    t.deepEqual(await driver.checkCredentials(target, call), { state: 'off' });
  });

  powered('sets the next boot to the network, then powers on', async (t, { driver, target, observe }) => {
    const boots = await observe.boots();
    await driver.setNextBoot(target, 'network', call);
    t.is(await observe.nextBoot(), 'network');
    await driver.on(target, call);
    t.is(await eventually(observe.power, (p) => p === 'on', settle), 'on');
    t.is(await driver.state(target, call), 'on');
    t.true((await observe.boots()) > boots, 'the machine started');
  });

  powered('powering on a machine that is on changes nothing', async (t, { driver, target, observe }) => {
    const boots = await observe.boots();
    await driver.on(target, call);
    t.is(await driver.state(target, call), 'on');
    t.is(await observe.power(), 'on');
    t.is(await observe.boots(), boots, 'not restarted');
  });

  powered('cycles a machine that is on: it starts again', async (t, { driver, target, observe }) => {
    const boots = await observe.boots();
    await driver.cycle(target, call);
    t.true((await eventually(observe.boots, (n) => n > boots, settle)) > boots);
    t.is(await eventually(observe.power, (p) => p === 'on', settle), 'on');
  });

  powered('a soft off is accepted', async (t, { driver, target }) => {
    // Whether the OS shuts down is the OS's business (a VM with no OS ignores ACPI); the BMC must accept the request.
    await t.notThrowsAsync(driver.off(target, { ...call, soft: true }));
  });

  powered('a hard off turns the machine off, and a second off changes nothing', async (t, { driver, target, observe }) => {
    await driver.off(target, call);
    t.is(await eventually(observe.power, (p) => p === 'off', settle), 'off');
    t.is(await driver.state(target, call), 'off');
    await driver.off(target, call);
    t.is(await observe.power(), 'off');
  });

  powered('sets the next boot to disk', async (t, { driver, target, observe }) => {
    await driver.setNextBoot(target, 'disk', call);
    t.is(await observe.nextBoot(), 'disk');
  });

  powered('cycling a machine that is off powers it on', async (t, { driver, target, observe }) => {
    await driver.cycle(target, call);
    t.is(await eventually(observe.power, (p) => p === 'on', settle), 'on');
    await driver.off(target, call);
    t.is(await eventually(observe.power, (p) => p === 'off', settle), 'off');
  });

  powered("refuses wrong credentials with the BMC's reason", async (t, { driver }) => {
    if (!subject.wrongCredentials) {
      t.is(subject.target.bmc.password, undefined, 'a subject whose BMC checks passwords must give wrongCredentials');
      return;
    }
    const err = await t.throwsAsync(driver.checkCredentials(subject.wrongCredentials, call));
    t.true(err instanceof PowerError, `a PowerError, got ${err?.name}`);
    t.is((err as PowerError).reason, 'auth', err?.message);
    t.true((err?.message ?? '').length > 10, 'the message says what the BMC answered');
    await t.throwsAsync(driver.on(subject.wrongCredentials, call), { instanceOf: PowerError });
    t.is(await subject.observe!.power(), 'off', 'nothing happened to the machine');
  });

  powered('fails on an unreachable BMC within the call timeout', async (t, { driver }) => {
    t.truthy(subject.unreachable, 'a subject must give an unreachable BMC');
    const started = Date.now();
    const short = { timeoutMs: 5_000 };
    const err = await t.throwsAsync(driver.state(subject.unreachable!, short));
    t.true(err instanceof PowerError, `a PowerError, got ${err?.name}: ${err?.message}`);
    t.true(['unreachable', 'timeout'].includes((err as PowerError).reason), (err as PowerError).reason);
    t.true(Date.now() - started < short.timeoutMs + 3_000, `took ${Date.now() - started} ms`);
    t.regex(err?.message ?? '', new RegExp(subject.unreachable!.bmc.address!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), 'the message names the BMC');
  });
}
