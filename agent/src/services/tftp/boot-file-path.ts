/**
 * Maps a filename from a read request to a file under the served root. It must never
 * yield a path outside the root: `..` segments are refused before anything touches the
 * disk, and the real path (symlinks resolved) must still lie inside the root's real path.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { tftpErrors, type TftpErrorCode } from './packets.ts';

export type BootFileLookup = { ok: true; path: string; size: number } | { ok: false; code: TftpErrorCode; message: string };

/**
 * `rootReal` is the root after realpath. An absolute name inside the root is taken as
 * it is; any other absolute name is read under the root, as dnsmasq and `tftpd -s` do
 * (ISC configs often say `filename "/pxelinux.0"`), and refused if nothing is there, so
 * a probe for `/etc/passwd` learns nothing about the host. Windows clients send `\`.
 */
export async function lookUpBootFile(rootReal: string, requested: string): Promise<BootFileLookup> {
  const name = requested.replaceAll('\\', '/');
  if (name.split('/').includes('..')) return refused('path leaves the TFTP root');
  const absolute = isAbsolute(name);
  const candidate = absolute && isInside(rootReal, resolve(name)) ? resolve(name) : resolve(rootReal, absolute ? `.${name}` : name);
  const outsideAsAsked = absolute && candidate !== resolve(name);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (err) {
    if (outsideAsAsked) return refused('absolute path outside the TFTP root');
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: tftpErrors.fileNotFound, message: 'File not found' };
    return refused('cannot open file');
  }
  if (!isInside(rootReal, real)) return refused('path resolves outside the TFTP root');
  const info = await stat(real).catch(() => null);
  if (!info?.isFile()) return { ok: false, code: tftpErrors.fileNotFound, message: 'File not found' };
  return { ok: true, path: real, size: info.size };
}

function refused(why: string): BootFileLookup {
  return { ok: false, code: tftpErrors.accessViolation, message: `Access violation: ${why}` };
}

function isInside(rootReal: string, path: string): boolean {
  return path === rootReal || path.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}
