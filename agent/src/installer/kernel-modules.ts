/**
 * Which kernel modules the installer loads, and in which order, read from an unpacked
 * Debian kernel package. The package ships no modules.dep (depmod runs at install
 * time), so each module's `depends=` is read from its ELF `.modinfo` section; modules
 * the kernel has built in (modules.builtin) need no loading.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join, relative } from 'node:path';

export interface KernelModule {
  name: string;
  /** Path under lib/modules/<version>/, as in the package (possibly compressed). */
  path: string;
  depends: string[];
}

/** Module names are compared the way the kernel does: `-` and `_` are the same. */
export const moduleName = (file: string) =>
  file
    .replace(/^.*\//, '')
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');

/** The bytes of a module, decompressed when the package ships it compressed. */
export function readModule(file: string): Buffer {
  if (file.endsWith('.ko')) return readFileSync(file);
  if (file.endsWith('.ko.gz')) return gunzipSync(readFileSync(file));
  const tool = file.endsWith('.ko.xz') ? 'xz' : file.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) throw new Error(`${file}: not a kernel module (.ko, .ko.xz, .ko.zst, .ko.gz)`);
  try {
    return execFileSync(tool, ['-dc', file], { maxBuffer: 256 * 1024 * 1024 });
  } catch (err) {
    throw new Error(`${file}: cannot decompress with ${tool} (is it installed?): ${(err as Error).message}`);
  }
}

/** The key=value pairs of an ELF64 module's `.modinfo` section. */
export function modinfo(module: Buffer): Map<string, string[]> {
  if (module.readUInt32BE(0) !== 0x7f454c46 || module[4] !== 2 || module[5] !== 1) throw new Error('not a little-endian ELF64 file');
  const shoff = Number(module.readBigUInt64LE(0x28));
  const shentsize = module.readUInt16LE(0x3a);
  const shnum = module.readUInt16LE(0x3c);
  const shstrndx = module.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: module.readUInt32LE(at), offset: Number(module.readBigUInt64LE(at + 0x18)), size: Number(module.readBigUInt64LE(at + 0x20)) };
  };
  const names = section(shstrndx);
  const nameOf = (offset: number) => {
    const start = names.offset + offset;
    return module.toString('latin1', start, module.indexOf(0, start));
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== '.modinfo') continue;
    const info = new Map<string, string[]>();
    for (const pair of module.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = pair.indexOf('=');
      if (eq > 0) info.set(pair.slice(0, eq), [...(info.get(pair.slice(0, eq)) ?? []), pair.slice(eq + 1)]);
    }
    return info;
  }
  throw new Error('no .modinfo section');
}

export class ModuleTree {
  private readonly files = new Map<string, string>();
  readonly builtin: Set<string>;

  /** `dir` is lib/modules/<version> of the unpacked kernel package. */
  constructor(readonly dir: string) {
    const walk = (d: string) => {
      for (const entry of readdirSync(d, { withFileTypes: true })) {
        const path = join(d, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.ko(\.(xz|zst|gz))?$/.test(entry.name)) this.files.set(moduleName(entry.name), relative(dir, path));
      }
    };
    walk(join(dir, 'kernel'));
    const builtinFile = join(dir, 'modules.builtin');
    this.builtin = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean).map(moduleName) : []);
  }

  module(name: string): KernelModule | undefined {
    const path = this.files.get(moduleName(name));
    if (!path) return undefined;
    const depends = (modinfo(readModule(join(this.dir, path))).get('depends')?.[0] ?? '').split(',').filter(Boolean).map(moduleName);
    return { name: moduleName(name), path, depends };
  }

  /**
   * The modules to load for `wanted`, each after the modules it depends on; built-in
   * ones are left out. A name neither built in nor in the package is an error.
   */
  loadOrder(wanted: string[]): KernelModule[] {
    const order: KernelModule[] = [];
    const done = new Set<string>();
    const visiting = new Set<string>();
    const missing: string[] = [];
    const visit = (name: string, chain: string[]) => {
      const n = moduleName(name);
      if (done.has(n) || this.builtin.has(n)) return;
      if (visiting.has(n)) throw new Error(`kernel modules depend on each other in a circle: ${[...chain, n].join(' → ')}`);
      const module = this.module(n);
      if (!module) return void missing.push(chain.length ? `${n} (needed by ${chain.at(-1)})` : n);
      visiting.add(n);
      for (const dep of module.depends) visit(dep, [...chain, n]);
      visiting.delete(n);
      done.add(n);
      order.push(module);
    };
    for (const name of wanted) visit(name, []);
    if (missing.length) throw new Error(`kernel modules neither built in nor in ${this.dir}: ${missing.join(', ')}`);
    return order;
  }
}
