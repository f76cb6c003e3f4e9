/**
 * The lab driver passes the power contract against the machine simulator's own power
 * switch: the contract judges it by the simulator's record of the machine (power, starts,
 * next boot device), not by the driver's word. The machine's firmware has no agent to
 * boot from here, so once on it keeps asking for DHCP — on is on all the same. Also: the
 * plugin's two halves, the address check, and what a machine the switch does not know gets.
 */
import test from 'ava';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { PowerError, importDefinition, powerCapability, type PowerDriver, type PowerTarget } from '@sprout/kernel';
import { discoverPlugins, resolvePluginPackage } from '@sprout/kernel/discovery';
import { powerContract } from '@sprout/kernel/testing';
import { MachineSimulator, type SimulatorEvent } from '@sprout/agent/simulator';
import { checkLabAddress } from '../src/address.ts';

/** This package as a builtin plugin, found by its name as the CLI finds it. */
const builtinPlugins = [resolvePluginPackage('@sprout/plugin-power-lab', import.meta.url)];

const mac = '52:54:00:1a:b0:01';
let simulator: MachineSimulator | undefined;
const events: SimulatorEvent[] = [];

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The driver as the site agent gets it: through the plugin's agent half. */
async function agentDriver(): Promise<PowerDriver> {
  const manifest = discoverPlugins(builtinPlugins, '/nonexistent').plugins.find((p) => p.id === 'power-lab');
  if (!manifest) throw new Error('builtin discovery does not find power-lab');
  const part = await (await importDefinition(manifest)).agent?.();
  const driver = part?.power?.lab;
  if (!driver) throw new Error("power-lab's agent half has no `lab` driver");
  return driver;
}

const targetOf = (address: string, macs = [mac]): PowerTarget => ({ machineId: 'm-lab-1', hostname: 'lab-1', macs, bmc: { type: 'lab', address } });

powerContract(test, {
  title: 'lab against the machine simulator',
  callTimeoutMs: 5_000,
  settleMs: 5_000,
  async setup() {
    // DHCP goes to a port nothing answers on: powered on, the firmware keeps asking.
    simulator = new MachineSimulator({
      endpoints: { dhcp: { host: '127.0.0.1', port: await freePort('udp') }, relay: { address: '127.0.0.1', port: 0 } },
      retryDelayMs: 200,
      onEvent: (e) => events.push(e),
    });
    await simulator.start();
    simulator.plugIn({ mac });
    const state = () => simulator!.machineState(mac)!;
    return {
      driver: await agentDriver(),
      target: targetOf(simulator.powerSwitchUrl),
      observe: {
        power: async () => state().state,
        boots: async () => state().starts,
        nextBoot: async () => state().nextBoot,
      },
      unreachable: targetOf(`http://127.0.0.1:${await freePort('tcp')}`),
    };
  },
  async teardown() {
    await simulator?.stop();
  },
});

test.serial('the contract machine booted from the network once, then kept the disk as its boot device; every switch action is an event', (t) => {
  t.truthy(simulator, 'the contract ran');
  const power = events.filter((e) => e.kind === 'power').map((e) => e.detail);
  t.deepEqual(power, [
    // The contract's first step asks once, its power-on step again: still once.
    'next boot device network (once) (lab power switch)',
    'next boot device network (once) (lab power switch)',
    'power on (lab power switch), boots from network',
    'power cycle (lab power switch), boots from network',
    'soft off (the OS shuts down) (lab power switch)',
    'next boot device disk (lab power switch)',
    'power cycle (lab power switch), boots from disk',
    // No image on its disk: the firmware falls back to the network, as a boot order would.
    'boot device disk, but no operating system on it: the firmware tries the network',
    'off (lab power switch)',
  ]);
  t.like(simulator!.machineState(mac), { state: 'off', nextBoot: 'disk', starts: 3 });
});

test('the plugin tells the control plane the lab bmc.type and checks its address: loopback http URLs only', async (t) => {
  const manifest = discoverPlugins(builtinPlugins, '/nonexistent').plugins.find((p) => p.id === 'power-lab');
  t.like(manifest, { packageName: '@sprout/plugin-power-lab', provides: ['power'], isDefault: true, builtin: true });
  let info: unknown;
  await (await importDefinition(manifest!)).setup!({
    provide: (capability: unknown, factory: () => unknown) => capability === powerCapability && (info = factory()),
  } as never);
  t.like(info, { type: 'lab', needsAddress: true });
  for (const good of ['http://127.0.0.1:7481', 'http://127.77.0.1:8080/']) t.is(checkLabAddress(good), undefined, good);
  for (const bad of [
    '127.0.0.1:7481',
    'http://10.0.0.1:7481',
    'https://127.0.0.1:7481',
    'http://127.0.0.1',
    'http://localhost:7481',
    'http://127.0.0.1:7481/x',
    'http://127.0.0.300:1',
  ]) {
    t.regex(checkLabAddress(bad) ?? '', /lab power switch URL http:\/\/127\.x\.y\.z:PORT/, bad);
  }
});

test("a machine the switch does not know is refused with the switch's words, and a target without an address names the field", async (t) => {
  const own = new MachineSimulator({ endpoints: { dhcp: { host: '127.0.0.1', port: await freePort('udp') }, relay: { address: '127.0.0.1', port: 0 } } });
  await own.start();
  t.teardown(() => own.stop());
  const driver = await agentDriver();
  const err = await t.throwsAsync(driver.on(targetOf(own.powerSwitchUrl, ['52:54:00:1a:b0:99']), { timeoutMs: 2_000 }));
  t.true(err instanceof PowerError);
  t.is((err as PowerError).reason, 'refused');
  t.regex(err!.message, /lab-1 .*HTTP 404: no machine 52:54:00:1a:b0:99 is plugged into this lab power switch/);
  const none = await t.throwsAsync(driver.state({ ...targetOf(''), bmc: { type: 'lab' } }, { timeoutMs: 2_000 }));
  t.regex(none!.message, /lab-1 has bmc\.type lab but no bmc\.address/);
});
