/**
 * Stops a site service's worker processes: each is asked to finish (`{ type: 'stop' }` over
 * its IPC channel, or SIGTERM once the channel is gone) and killed when it has not exited
 * within `graceMs`. Resolves once every one has exited.
 */
import type { ChildProcess } from 'node:child_process';

export async function stopWorkerProcesses(children: readonly ChildProcess[], graceMs = 5000): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          if (child.connected) child.send({ type: 'stop' });
          else child.kill('SIGTERM');
        }),
    ),
  );
}
