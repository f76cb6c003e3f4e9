/**
 * The `lab` power driver: works a simulated machine through the machine simulator's
 * power switch (agent/src/simulator/power-switch.ts) over HTTP on loopback. The
 * machine is the first of the target's MACs; `bmc.address` is the switch's URL. The
 * switch asks for no credentials, so there is nothing to refuse.
 */
import { PowerError, type PowerCallOptions, type PowerDriver, type PowerState, type PowerTarget } from '@sprout/kernel/sdk';

interface SwitchState {
  state: 'on' | 'off';
  nextBoot: 'network' | 'disk';
  starts: number;
}

export function labDriver(): PowerDriver {
  const power = async (target: PowerTarget, options: PowerCallOptions, action: 'on' | 'off' | 'cycle', soft?: boolean) => {
    const before = await call(target, options, 'GET', 'power');
    const after = await call(target, options, 'POST', 'power', { action, ...(soft ? { soft: true } : {}) });
    return before.state === after.state && action !== 'cycle' ? { note: `already ${after.state}` } : {};
  };
  return {
    type: 'lab',
    state: async (target, options) => (await call(target, options, 'GET', 'power')).state satisfies PowerState,
    on: (target, options) => power(target, options, 'on'),
    off: (target, options) => power(target, options, 'off', options.soft),
    cycle: (target, options) => power(target, options, 'cycle'),
    setNextBoot: async (target, device, options) => {
      await call(target, options, 'PUT', 'boot', { device });
      return {};
    },
    checkCredentials: async (target, options) => ({ state: (await call(target, options, 'GET', 'power')).state }),
  };
}

/** One request to the switch about the target's machine; every failure is a PowerError naming the switch. */
async function call(
  target: PowerTarget,
  options: PowerCallOptions,
  method: 'GET' | 'POST' | 'PUT',
  what: 'power' | 'boot',
  body?: unknown,
): Promise<SwitchState> {
  const address = target.bmc.address;
  if (!address) throw new PowerError('refused', `${target.hostname} has bmc.type lab but no bmc.address (the lab power switch URL)`);
  const mac = target.macs[0];
  if (!mac) throw new PowerError('refused', `${target.hostname} has no MAC address: the lab power switch knows machines by their MAC`);
  const url = `${address.replace(/\/+$/, '')}/machines/${encodeURIComponent(mac)}/${what}`;
  const doing = `${method === 'GET' ? 'reading' : 'setting'} ${what === 'boot' ? 'the next boot device' : 'the power'} of ${target.hostname} at the lab power switch ${address}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method, signal, ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    text = await res.text();
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) throw new PowerError('timeout', `${doing}: no answer within ${options.timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new PowerError('unreachable', `${doing}: ${cause?.message ?? (err as Error).message}`);
  }
  let answer: Partial<SwitchState> & { error?: string };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    throw new PowerError('protocol', `${doing}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new PowerError(res.status === 404 ? 'refused' : 'protocol', `${doing}: HTTP ${res.status}: ${answer.error ?? text.trim()}`);
  if (answer.state !== 'on' && answer.state !== 'off') throw new PowerError('protocol', `${doing}: the switch answered no power state: ${text.slice(0, 200)}`);
  return answer as SwitchState;
}
