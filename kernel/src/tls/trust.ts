/**
 * How the CLI and the agent trust a control plane whose certificate a private CA signed
 * (`--ca`, `SPROUT_CA`, `ca:`): an HTTP dispatcher that trusts that CA on top of the
 * system store, and the words for a TLS failure that tell an operator what to do
 * instead of a stack trace. undici is loaded only when a CA is given, so `--help` stays fast.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { SproutError } from '../errors/index.ts';

/** What fetch takes as `dispatcher` (Node's fetch is undici's). */
export type HttpDispatcher = object;

const dispatchers = new Map<string, Promise<HttpDispatcher>>();

/** A dispatcher trusting the system store plus the PEM certificates in `caFile`. */
export function trustingDispatcher(caFile: string, flag = '--ca'): Promise<HttpDispatcher> {
  let made = dispatchers.get(caFile);
  if (!made) {
    let pem: string;
    try {
      pem = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `${flag}: cannot read the CA file ${caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        {
          details: [{ field: flag, message: `cannot read ${caFile}` }],
        },
      );
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new SproutError('SPROUT_ERR_CONFIG', `${flag}: ${caFile} holds no PEM certificate`, {
        details: [{ field: flag, message: `${caFile} holds no PEM certificate` }],
      });
    }
    made = import('undici').then(({ Agent }) => new Agent({ connect: { ca: [...rootCertificates, pem] } }));
    dispatchers.set(caFile, made);
  }
  return made;
}

/** Makes every fetch of this process trust `caFile` too (the agent: one process, one control plane). */
export async function trustProcessWide(caFile: string, flag = '--ca'): Promise<void> {
  const dispatcher = await trustingDispatcher(caFile, flag);
  const { setGlobalDispatcher } = await import('undici');
  setGlobalDispatcher(dispatcher as Parameters<typeof setGlobalDispatcher>[0]);
}

const untrustedCodes = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/**
 * A sentence for a fetch failure that is about the server's certificate, or null.
 * `hint` says where a CA can be given (`--ca FILE`, `ca: in agent.yaml`).
 */
export function explainTlsFailure(err: unknown, url: string, hint: string): string | null {
  let cause = err as (Error & { code?: string; cause?: unknown }) | undefined;
  for (let depth = 0; cause && depth < 4; depth++, cause = cause.cause as typeof cause) {
    const code = cause.code ?? '';
    if (untrustedCodes.has(code))
      return `the server at ${url} presents a certificate this machine does not trust (${cause.message}): give the CA that signed it with ${hint}`;
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
      return `the server at ${url} presents a certificate that is not valid now (${cause.message})`;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return `the certificate of ${url} does not name that host (${cause.message}): use the host name or address the certificate was issued for`;
    if (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(cause.message))
      return `${url} does not speak TLS: is the server listening with http:// instead?`;
  }
  return null;
}
