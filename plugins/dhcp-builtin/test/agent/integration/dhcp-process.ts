/**
 * The `dhcp` service alone in a process, for tests that kill it: prints `ready <port>`
 * once listening, and runs until killed. Argument: `{"dataDir","settings","state"}` as JSON.
 */
import type { SiteDesiredState } from '@sprout/kernel';
import { createDhcpService } from '../../../src/agent/dhcp-service.ts';

const spec = JSON.parse(process.argv[2]!) as { dataDir: string; settings: Record<string, unknown>; state: SiteDesiredState };
const running = await createDhcpService()({
  dataDir: spec.dataDir,
  settings: spec.settings,
  desiredState: () => spec.state,
  onDesiredState: () => undefined,
  report: () => undefined,
  logger: { info: () => undefined, warn: () => undefined, error: (o: object, m?: string) => console.error(m, JSON.stringify(o)) },
});
console.log(`ready ${String(running.health().listening).split(':')[1]}`);
