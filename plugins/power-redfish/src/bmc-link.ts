/**
 * One power call's HTTPS conversation with one BMC: every request shares the call's
 * deadline, speaks JSON, verifies the BMC's TLS certificate unless `bmc.insecure`, and
 * turns what went wrong into a PowerError that starts with the BMC and what was being
 * done and carries the BMC's own words — never the password.
 */
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { PowerError, type BmcAccess, type PowerCallOptions, type PowerErrorReason } from '@sprout/kernel/sdk';
import { checkRedfishAddress } from './address.ts';

export interface RedfishReply {
  status: number;
  /** `401 Unauthorized`, as the BMC said it. */
  statusLine: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or undefined when there was none (or it was not JSON). */
  body: unknown;
  text: string;
}

export interface RedfishRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A reply body is read up to this size: a Redfish resource is a few KiB. */
const maxBody = 4 * 1024 * 1024;

/** Connections that never got to the BMC (nothing listens, no route, no such host), as Node's `err.code` names them. */
const unreachableCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** TLS verification failures, as Node's `err.code` names them. */
const certificateCodes = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME/;

export class BmcLink {
  /** `redfish https://host:port`: how every message names the BMC. */
  readonly name: string;
  private readonly url: URL;
  private readonly deadline: number;

  constructor(
    readonly bmc: BmcAccess,
    private readonly options: PowerCallOptions,
  ) {
    const address = bmc.address ?? '';
    this.name = `redfish ${address || '(no bmc.address)'}`;
    const problem = bmc.address ? checkRedfishAddress(address) : 'is missing';
    if (problem) throw new PowerError('unreachable', `${this.name}: bmc.address ${problem}`);
    this.url = new URL(address);
    this.deadline = Date.now() + options.timeoutMs;
  }

  /** A PowerError naming the BMC and what was being done, with the password scrubbed out. */
  error(reason: PowerErrorReason, what: string, detail: string): PowerError {
    return new PowerError(reason, this.scrub(`${this.name}: ${what}: ${detail}`));
  }

  /** The BMC refused a request: `auth` for 401/403, `refused` otherwise, with its status line and Redfish message. */
  refusal(what: string, reply: RedfishReply): PowerError {
    const reason = reply.status === 401 || reply.status === 403 ? 'auth' : 'refused';
    const words = redfishMessage(reply);
    return this.error(reason, what, words ? `${reply.statusLine}: ${words}` : reply.statusLine);
  }

  /** Sends one request; resolves with any HTTP answer, fails only when no answer came. */
  send(what: string, req: RedfishRequest): Promise<RedfishReply> {
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) return Promise.reject(this.timedOut(what));
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0', ...req.headers };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    return new Promise<RedfishReply>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.options.signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const r = request(
        {
          protocol: 'https:',
          hostname: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.url.port || 443,
          method: req.method,
          path: req.path,
          headers,
          // A self-signed BMC certificate only when the machine's BMC record says so.
          rejectUnauthorized: this.bmc.insecure !== true,
          // One connection per request: nothing lingers after the call.
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBody) r.destroy(new Error(`the reply is larger than ${maxBody} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            finish(() =>
              resolve({
                status: res.statusCode ?? 0,
                statusLine: `${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
                headers: res.headers,
                body: parseJson(text),
                text,
              }),
            );
          });
          res.on('error', (err) => finish(() => reject(this.transportError(what, err))));
        },
      );
      const timer = setTimeout(() => {
        finish(() => reject(this.timedOut(what)));
        r.destroy();
      }, remaining);
      const onAbort = () => {
        finish(() => reject(this.error('timeout', what, 'cancelled')));
        r.destroy();
      };
      if (this.options.signal?.aborted) return onAbort();
      this.options.signal?.addEventListener('abort', onAbort, { once: true });
      r.on('error', (err) => finish(() => reject(this.transportError(what, err))));
      r.end(payload);
    });
  }

  private timedOut(what: string): PowerError {
    return this.error('timeout', what, `the BMC did not answer within ${this.options.timeoutMs} ms`);
  }

  private transportError(what: string, err: NodeJS.ErrnoException): PowerError {
    if (certificateCodes.test(err.code ?? '')) {
      return this.error(
        'unreachable',
        what,
        `the BMC's TLS certificate was not trusted (${err.message}); if this BMC has a self-signed certificate, set insecure: true on the machine's BMC`,
      );
    }
    if (unreachableCodes.has(err.code ?? '')) return this.error('unreachable', what, `the BMC could not be reached (${err.message})`);
    return this.error('unreachable', what, err.message);
  }

  private scrub(message: string): string {
    const secret = this.bmc.password;
    return secret && secret.length >= 3 ? message.split(secret).join('***') : message;
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The BMC's own words: Redfish `error.message` and its `@Message.ExtendedInfo` messages, or the start of a non-JSON body. */
export function redfishMessage(reply: Pick<RedfishReply, 'body' | 'text'>): string {
  const error = (reply.body as { error?: { message?: unknown; '@Message.ExtendedInfo'?: unknown } } | undefined)?.error;
  if (!error) return reply.text.trim().slice(0, 300);
  const words: string[] = [];
  if (typeof error.message === 'string') words.push(error.message);
  if (Array.isArray(error['@Message.ExtendedInfo'])) {
    for (const info of error['@Message.ExtendedInfo'] as Array<{ Message?: unknown; MessageId?: unknown }>) {
      if (typeof info?.Message === 'string' && !words.includes(info.Message)) words.push(info.Message);
      else if (typeof info?.MessageId === 'string') words.push(info.MessageId);
    }
  }
  return words.join(' ');
}
