import { openSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import * as t from 'typanion';
import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { clearLabState, defaultLabDir, readLabState, writeLabState } from '../../lab/lab-state.ts';
import { alive } from '../../process-alive.ts';
import { labInfoText } from './status.ts';

export class LabUpCommand extends SproutCommand {
  static paths = [['lab', 'up']];
  static usage = Command.Usage({
    category: 'Lab',
    description: 'Start a lab in the background and keep it running: control plane, site agent and machine simulator',
    details:
      'The lab lives in ./.sprout-lab (or --dir, or $SPROUT_LAB_DIR) and keeps its database between runs. It prints the SPROUT_URL and SPROUT_TOKEN to use the other commands against it. ' +
      '`sprout lab status` shows it, `sprout lab down` stops it.',
    examples: [
      ['Start', 'sprout lab up'],
      ['Then use it', 'eval "$(sprout lab status --env)" && sprout machine list'],
    ],
  });

  dir = Option.String('--dir', { description: 'Lab folder (default ./.sprout-lab)' });
  port = Option.String('--port', '7480', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(0, 65535)]),
    description: 'API port on 127.0.0.1 (0: any free port)',
  });
  foreground = Option.Boolean('--foreground', false, { description: 'Run the lab in this process until SIGINT/SIGTERM' });

  async run() {
    const dir = this.dir ? resolve(this.dir) : defaultLabDir();
    const running = readLabState(dir);
    if (running) throw new Error(`a lab is already running from ${dir} (pid ${running.pid}, ${running.url}); \`sprout lab down\` stops it`);
    return this.foreground ? this.serve(dir) : this.startInBackground(dir);
  }

  private async startInBackground(dir: string): Promise<number> {
    mkdirSync(dir, { recursive: true });
    const log = openSync(join(dir, 'lab.out'), 'a');
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], 'lab', 'up', '--foreground', '--dir', dir, '--port', String(this.port)], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    this.context.stderr.write(`starting the lab in the background (pid ${child.pid}, log ${join(dir, 'lab.out')})…\n`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const info = readLabState(dir);
      if (info?.pid === child.pid) {
        this.print(info, () => labInfoText(info!));
        return 0;
      }
      if (child.exitCode !== null || !alive(child.pid!)) throw new Error(`the lab did not start; see ${join(dir, 'lab.out')} and ${join(dir, 'lab.log')}`);
      if (Date.now() > deadline) throw new Error(`the lab did not get ready within 120 s; see ${join(dir, 'lab.log')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async serve(dir: string): Promise<number> {
    const { Lab } = await import('../../lab/lab.ts');
    const lab = await Lab.start({ dir, apiPort: this.port, simulator: false });
    writeLabState(lab.info);
    this.context.stdout.write(`${labInfoText(lab.info)}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    clearLabState(dir);
    await lab.stop();
    return 0;
  }
}
