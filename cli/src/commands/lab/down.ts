import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { defaultLabDir, readLabState } from '../../lab/lab-state.ts';
import { alive } from '../../process-alive.ts';

export class LabDownCommand extends SproutCommand {
  static paths = [['lab', 'down']];
  static usage = Command.Usage({
    category: 'Lab',
    description: 'Stop the running lab; --purge also removes its folder (database, agent state, artifacts)',
    examples: [
      ['Stop, keep the data', 'sprout lab down'],
      ['Stop and forget everything', 'sprout lab down --purge'],
    ],
  });

  dir = Option.String('--dir', { description: 'Lab folder (default ./.sprout-lab)' });
  purge = Option.Boolean('--purge', false, { description: 'Remove the lab folder after stopping' });

  async run() {
    const dir = this.dir ? resolve(this.dir) : defaultLabDir();
    const info = readLabState(dir);
    if (info) {
      process.kill(info.pid, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (alive(info.pid)) {
        if (Date.now() > deadline) throw new Error(`the lab (pid ${info.pid}) did not stop within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (this.purge) rmSync(dir, { recursive: true, force: true });
    this.print(
      { stopped: Boolean(info), purged: this.purge, dir },
      () => `${info ? `stopped the lab (pid ${info.pid})` : `no lab was running from ${dir}`}${this.purge ? `; removed ${dir}` : ''}`,
    );
    return 0;
  }
}
