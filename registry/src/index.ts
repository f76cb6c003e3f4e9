/**
 * `@sprout/registry`: what `sprout registry start` needs of Verdaccio, kept out of the CLI
 * so that an installation of the server or the agent never carries Verdaccio's ~290
 * packages. The CLI imports this package only when a registry is started, and says how
 * to install it when it is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The path of Verdaccio's executable script (run it with `node`). */
export function verdaccioBin(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('verdaccio')));
  while (!isVerdaccioPackage(dir)) {
    if (dir === dirname(dir)) throw new Error(`verdaccio's package.json was not found above ${fileURLToPath(import.meta.resolve('verdaccio'))}`);
    dir = dirname(dir);
  }
  const { bin } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return join(dir, typeof bin === 'string' ? bin : bin.verdaccio);
}

function isVerdaccioPackage(dir: string): boolean {
  const file = join(dir, 'package.json');
  return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).name === 'verdaccio';
}
