/**
 * Reads the iPXE script the agent hands a machine, as iPXE would act on it: an installer
 * (kernel with `sprout.metadata=` on its command line, initrds), an exit to the local
 * disk, or a refusal the agent printed (`Sprout will not boot this machine: …`).
 */

export type BootScript =
  | { kind: 'installer'; kernel: string; initrds: string[]; metadata: string; cmdline: string }
  | { kind: 'local'; message: string }
  | { kind: 'refusal'; reason: string }
  | { kind: 'unusable'; why: string };

export function readBootScript(text: string): BootScript {
  const lines = text.split('\n').map((l) => l.trim());
  if (lines[0] !== '#!ipxe') return { kind: 'unusable', why: 'not an iPXE script (no #!ipxe first line)' };
  const echoes = lines.filter((l) => l.startsWith('echo ')).map((l) => l.slice(5));
  const refusal = echoes.find((e) => e.startsWith('Sprout will not boot this machine: '));
  if (refusal) return { kind: 'refusal', reason: refusal.slice('Sprout will not boot this machine: '.length) };
  const kernel = lines.find((l) => /^(kernel|chain|imgexec)\s/.test(l));
  if (kernel) {
    const [, url = '', ...args] = kernel.split(/\s+/);
    const metadata = args.find((a) => a.startsWith('sprout.metadata='))?.slice('sprout.metadata='.length);
    if (!metadata) return { kind: 'unusable', why: `the kernel line has no sprout.metadata=: ${kernel}` };
    const initrds = lines.filter((l) => /^(initrd|module)\s/.test(l)).map((l) => l.split(/\s+/)[1] ?? '');
    return { kind: 'installer', kernel: url, initrds, metadata, cmdline: args.join(' ') };
  }
  if (lines.some((l) => /^exit(\s|$)/.test(l))) return { kind: 'local', message: echoes.join('; ') };
  return { kind: 'unusable', why: 'the script neither boots a kernel nor exits to the local disk' };
}
