/**
 * The first boot of a simulated machine's installed OS, as cloud-init 22.4 plays it with a
 * NoCloud-net seed: GET meta-data, user-data and vendor-data under the seed URL the
 * installer wrote, from the machine's own address, then phone_home — a form POST of
 * hostname and instance_id to the URL vendor-data names. Once per install, like cloud-init's
 * per-instance modules; `os-silent` boots without calling back.
 */
import type { HttpCall, MachineHttp } from './machine-http.ts';
import type { InstallerContext } from './installer.ts';
import type { SimulatedMachine, SimulatorEventKind } from './simulator-types.ts';

export async function playFirstBoot(ctx: {
  machine: SimulatedMachine;
  http: MachineHttp;
  call: HttpCall;
  memory: InstallerContext['memory'];
  emit(kind: SimulatorEventKind, detail: string): void;
}): Promise<void> {
  const { memory, emit, http, call } = ctx;
  const seed = memory.seedfrom;
  if (!seed) return;
  memory.seedfrom = undefined;
  const masked = seed.replace(/(\/nocloud\/)[\w-]+/, '$1<seed token>');
  const files: Record<string, string> = {};
  for (const name of ['meta-data', 'user-data', 'vendor-data']) {
    const got = await http.getText(`${seed}${name}`, call);
    if (got.status !== 200) return void emit('error', `cloud-init: ${masked}${name} answered ${got.status}: ${got.text.trim()}`);
    files[name] = got.text;
  }
  const meta = JSON.parse(files['meta-data']) as { 'instance-id': string; 'local-hostname': string };
  emit('first-boot', `cloud-init: instance ${meta['instance-id']}, hostname ${meta['local-hostname']} from ${masked}`);
  if (ctx.machine.fail === 'os-silent') return void emit('crash', 'the installed OS never calls back (injected failure os-silent)');
  // vendor-data is `#cloud-config` and then a JSON document (YAML's flow style).
  const vendor = JSON.parse(files['vendor-data'].replace(/^#cloud-config\n/, '')) as { phone_home?: { url: string } };
  if (!vendor.phone_home?.url) return void emit('error', 'cloud-init: vendor-data has no phone_home');
  const answer = await http.postForm(vendor.phone_home.url, { hostname: meta['local-hostname'], instance_id: meta['instance-id'] }, call);
  emit('callback', `first-boot (phone_home) → ${answer.status}`);
}
