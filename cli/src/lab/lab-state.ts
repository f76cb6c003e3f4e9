/**
 * A lab kept running by `sprout lab up` is described by `<dir>/lab.json` (written by the
 * lab process once it is ready, removed when it stops), so `status` and `down` find it.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LabInfo } from './lab.ts';
import { alive } from '../process-alive.ts';

/** Where `sprout lab up` keeps its lab unless told otherwise. */
export const defaultLabDir = () => resolve(process.env.SPROUT_LAB_DIR ?? '.sprout-lab');

const stateFile = (dir: string) => join(dir, 'lab.json');

export function writeLabState(info: LabInfo): void {
  writeFileSync(stateFile(info.dir), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export function clearLabState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}

/** The running lab in `dir`, or null; a state file left by a lab that died is removed. */
export function readLabState(dir: string): LabInfo | null {
  if (!existsSync(stateFile(dir))) return null;
  const info = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabInfo;
  if (!alive(info.pid)) {
    clearLabState(dir);
    return null;
  }
  return info;
}
