/** Starts one of Sprout's site services in its own process (sprout-service.mjs, compiled code under plain node), optionally inside a network namespace. */
import { fileURLToPath } from 'node:url';
import type { SiteDesiredState } from '@sprout/kernel';
import { sproutNodeArgs, startChild, type Child, type Cleanup } from './bench-kit.ts';

const entry = fileURLToPath(new URL('./sprout-service.mjs', import.meta.url));

export interface SproutServiceSpec {
  service: 'dhcp' | 'dns' | 'tftp';
  settings: Record<string, unknown>;
  state: SiteDesiredState;
  dataDir: string;
}

export interface SproutService {
  child: Child;
  /** Stops the service and returns its last health (with report counts). */
  finish(): Promise<Record<string, any>>;
}

export async function startSproutService(cleanup: Cleanup, spec: SproutServiceSpec, netns?: string): Promise<SproutService> {
  const node = [process.execPath, ...sproutNodeArgs(), entry, JSON.stringify(spec)];
  const child = netns ? startChild(cleanup, 'ip', ['netns', 'exec', netns, ...node]) : startChild(cleanup, node[0], node.slice(1));
  await child.waitFor(/ready \{/, 60_000);
  return {
    child,
    async finish() {
      child.process.kill('SIGTERM');
      await Promise.race([child.exited, new Promise((r) => setTimeout(r, 10_000))]);
      await child.stop();
      const line = child
        .output()
        .split('\n')
        .find((l) => l.startsWith('final '));
      return line ? JSON.parse(line.slice(6)) : {};
    },
  };
}
