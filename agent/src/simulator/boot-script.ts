/**
 * Reads the iPXE script the agent hands a machine, as iPXE would act on it: an installer
 * (kernel with `sprout.metadata=` on its command line, initrds), an exit to the local
 * disk, a wait (`sleep`, then `chain` to a script URL: ask again), or a refusal the agent
 * printed (`Sprout will not boot this machine: …`).
 */

export type BootScript =
  | { kind: 'installer'; kernel: string; initrds: string[]; metadata: string; cmdline: string }
  | { kind: 'local'; message: string }
  | { kind: 'chain'; url: string; sleepSeconds: number; message: string }
  | { kind: 'refusal'; reason: string }
  | { kind: 'unusable'; why: string };

export function readBootScript(text: string): BootScript {
  const lines = text.split('\n').map((l) => l.trim());
  if (lines[0] !== '#!ipxe') return { kind: 'unusable', why: 'not an iPXE script (no #!ipxe first line)' };
  const echoes = lines.filter((l) => l.startsWith('echo ')).map((l) => l.slice(5));
  const refusal = echoes.find((e) => e.startsWith('Sprout will not boot this machine: '));
  if (refusal) return { kind: 'refusal', reason: refusal.slice('Sprout will not boot this machine: '.length) };
  const exec = lines.find((l) => /^(kernel|chain|imgexec)\s/.test(l));
  if (exec) {
    const [command, ...words] = exec.split(/\s+/);
    const [url = '', ...args] = withoutOptions(words);
    const metadata = args.find((a) => a.startsWith('sprout.metadata='))?.slice('sprout.metadata='.length);
    if (metadata) {
      const initrds = lines.filter((l) => /^(initrd|module)\s/.test(l)).map((l) => withoutOptions(l.split(/\s+/).slice(1))[0] ?? '');
      return { kind: 'installer', kernel: url, initrds, metadata, cmdline: args.join(' ') };
    }
    // iPXE runs whatever the URL holds; a script (the agent's, again) is what a chain here means.
    if (command !== 'kernel' && /^https?:\/\//.test(url)) {
      const sleep = lines.find((l) => /^sleep\s+\d+$/.test(l));
      return { kind: 'chain', url, sleepSeconds: sleep ? Number(sleep.split(/\s+/)[1]) : 0, message: echoes.join('; ') };
    }
    return { kind: 'unusable', why: `the ${command} line has no sprout.metadata=: ${exec}` };
  }
  if (lines.some((l) => /^exit(\s|$)/.test(l))) return { kind: 'local', message: echoes.join('; ') };
  return { kind: 'unusable', why: 'the script neither boots a kernel nor exits to the local disk' };
}

/** The words after an iPXE image command's options (`--autofree`, `--replace`, `--name <n>`, `--timeout <ms>`). */
function withoutOptions(words: string[]): string[] {
  let i = 0;
  while (i < words.length && words[i].startsWith('-')) i += /^(--name|-n|--timeout|-t)$/.test(words[i]) ? 2 : 1;
  return words.slice(i);
}
