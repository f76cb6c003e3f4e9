/**
 * The API's certificate and key (`tls:` in sprout.yaml): read from their files and
 * checked together before the server listens or swaps them on SIGHUP. A missing file or
 * a key that does not match its certificate is a config error naming the field; nothing
 * here ever logs the key.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { SproutError, type ProblemDetail } from '../errors/index.ts';

export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Reads and checks the files; throws SPROUT_ERR_CONFIG listing every bad field. */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const problems: ProblemDetail[] = [];
  const read = (field: keyof TlsFiles): Buffer | undefined => {
    const path = files[field];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push({ field: `tls.${field}`, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return undefined;
    }
  };
  const cert = read('cert');
  const key = read('key');
  const ca = read('ca');
  if (problems.length === 0) {
    const material = { cert: cert!, key: key!, ...(ca ? { ca } : {}) };
    for (const [field, check] of [
      ['tls.cert', () => createSecureContext({ cert: material.cert })],
      ['tls.key', () => createSecureContext({ key: material.key })],
      // Node skips what is not a certificate in `ca` without a word: look for one.
      ['tls.ca', () => ca && (ca.includes('-----BEGIN CERTIFICATE-----') ? createSecureContext({ ca }) : refuse('no BEGIN CERTIFICATE block'))],
    ] as const) {
      try {
        check();
      } catch (err) {
        problems.push({
          field,
          message: `${files[field.slice(4) as keyof TlsFiles]} is not a PEM ${field === 'tls.key' ? 'private key' : 'certificate'}: ${openSslReason(err)}`,
        });
      }
    }
    if (problems.length === 0) {
      try {
        createSecureContext(material);
      } catch (err) {
        problems.push({ field: 'tls.key', message: `${files.key} does not belong to the certificate in ${files.cert}: ${openSslReason(err)}` });
      }
    }
    if (problems.length === 0) return material;
  }
  throw new SproutError('SPROUT_ERR_CONFIG', `the API's TLS certificate or key is unusable (${problems.length} problem${problems.length > 1 ? 's' : ''})`, {
    details: problems,
  });
}

/** OpenSSL's reason without its code prefix (`error:05800074:x509 certificate routines::key values mismatch`). */
function openSslReason(err: unknown): string {
  return (err as Error).message.replace(/^error:[0-9A-Fa-f]+:[^:]*::?/, '');
}

function refuse(reason: string): never {
  throw new Error(reason);
}
