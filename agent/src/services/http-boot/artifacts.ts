/**
 * Serves files under the artifact root (kernels, initrds, images) with Content-Length,
 * single byte ranges and a sha256 header the installer verifies. Paths that leave the
 * root — `..`, absolute paths, symlinks pointing out — are refused.
 */
import { createHash } from 'node:crypto';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Digests by path; the promise is kept from the first request, so a rack asking for a new image at once reads it once. */
const digests = new Map<string, { mtimeMs: number; size: number; sha256: Promise<string> }>();

export function sha256Of(path: string, size: number, mtimeMs: number): Promise<string> {
  const known = digests.get(path);
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;
  const sha256 = (async () => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  })();
  digests.set(path, { mtimeMs, size, sha256 });
  // A failed read is not remembered: the next request tries again.
  sha256.catch(() => digests.get(path)?.sha256 === sha256 && digests.delete(path));
  return sha256;
}

/** The real path of `relative` inside `root`, or null when it is outside or missing. */
export function resolveInside(root: string, relative: string): string | null {
  if (relative.includes('\0') || relative.split('/').includes('..')) return null;
  try {
    const realRoot = realpathSync(root);
    const real = realpathSync(resolve(realRoot, `.${sep}${relative}`));
    return real === realRoot || !real.startsWith(realRoot + sep) ? null : real;
  } catch {
    return null;
  }
}

export async function serveArtifact(root: string, relative: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const path = resolveInside(root, relative);
  if (!path) return send(res, 404, `no artifact ${relative}`);
  const stat = statSync(path);
  if (!stat.isFile()) return send(res, 404, `no artifact ${relative}`);
  const sha256 = await sha256Of(path, stat.size, stat.mtimeMs);
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    'x-sprout-sha256': sha256,
    etag: `"${sha256}"`,
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (req.headers.range && range) {
    const start = range[1] === '' ? Math.max(stat.size - Number(range[2]), 0) : Number(range[1]);
    const end = range[1] === '' || range[2] === '' ? stat.size - 1 : Math.min(Number(range[2]), stat.size - 1);
    if (start > end || start >= stat.size) {
      res.writeHead(416, { 'content-range': `bytes */${stat.size}` });
      res.end();
      return 416;
    }
    res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${stat.size}` });
    if (req.method === 'HEAD') return (void res.end(), 206);
    createReadStream(path, { start, end }).pipe(res);
    return 206;
  }
  res.writeHead(200, { ...headers, 'content-length': stat.size });
  if (req.method === 'HEAD') return (void res.end(), 200);
  createReadStream(path).pipe(res);
  return 200;
}

export function send(res: ServerResponse, status: number, text: string): number {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) + 1 });
  res.end(`${text}\n`);
  return status;
}
