/** Walks a folder for what group or others may read, write or enter. */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Paths under `dir` (itself included) whose mode has a group or other bit, as `0644 path`; at most 20 000 entries visited. */
export function openToOthers(dir: string): string[] {
  const found: string[] = [];
  let visited = 0;
  const visit = (path: string) => {
    if (++visited > 20_000) throw new Error(`more than 20 000 entries under ${dir}`);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) found.push(`0${(stat.mode & 0o777).toString(8)} ${path}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return found;
}
