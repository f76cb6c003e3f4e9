/**
 * HTTP as a booting machine uses it (iPXE, then its installer): GET a script or JSON,
 * stream a download through sha256 without keeping it, POST a JSON callback. One
 * keep-alive pool for every simulated machine; a request can leave from the machine's
 * own address and is cut off when the machine powers off.
 */
import { createHash } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

export interface HttpCall {
  /** The address to connect from (the machine's own, where the host has it). */
  localAddress?: string;
  signal: AbortSignal;
}

export interface Downloaded {
  status: number;
  headers: IncomingHttpHeaders;
  /** Bytes received (and hashed). */
  bytes: number;
  sha256: string;
  /** The body of an answer other than 200, for the error message. */
  text?: string;
  /** True when the download was cut off on purpose (`stopAfterBytes`). */
  stopped?: boolean;
}

export interface DownloadOptions extends HttpCall {
  /** Flip one bit of the first chunk before hashing: corruption in transit. */
  corrupt?: boolean;
  /** Stop reading after this many bytes, as a machine that dies mid-download. */
  stopAfterBytes?: number;
}

export class MachineHttp {
  private readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 64 });

  async getText(url: string, call: HttpCall): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
    const res = await this.send('GET', url, call);
    return { status: res.statusCode ?? 0, text: await readText(res), headers: res.headers };
  }

  async postJson(url: string, body: unknown, call: HttpCall): Promise<{ status: number; text: string }> {
    const payload = Buffer.from(JSON.stringify(body));
    const res = await this.send('POST', url, call, payload);
    return { status: res.statusCode ?? 0, text: await readText(res) };
  }

  /** A form POST, as cloud-init's phone_home sends it. */
  async postForm(url: string, fields: Record<string, string>, call: HttpCall): Promise<{ status: number; text: string }> {
    const res = await this.send('POST', url, call, Buffer.from(new URLSearchParams(fields).toString()), 'application/x-www-form-urlencoded');
    return { status: res.statusCode ?? 0, text: await readText(res) };
  }

  async download(url: string, options: DownloadOptions): Promise<Downloaded> {
    const res = await this.send('GET', url, options);
    const status = res.statusCode ?? 0;
    if (status !== 200) return { status, headers: res.headers, bytes: 0, sha256: '', text: await readText(res) };
    const hash = createHash('sha256');
    let bytes = 0;
    let corrupt = options.corrupt ?? false;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (corrupt && chunk.length > 0) {
        chunk[0] ^= 0x01;
        corrupt = false;
      }
      const take = options.stopAfterBytes === undefined ? chunk : chunk.subarray(0, Math.max(0, options.stopAfterBytes - bytes));
      hash.update(take);
      bytes += take.length;
      if (options.stopAfterBytes !== undefined && bytes >= options.stopAfterBytes) {
        res.destroy();
        return { status, headers: res.headers, bytes, sha256: hash.digest('hex'), stopped: true };
      }
    }
    if (!res.complete) throw new Error(`GET ${url}: the connection closed after ${bytes} bytes`);
    return { status, headers: res.headers, bytes, sha256: hash.digest('hex') };
  }

  close(): void {
    this.agent.destroy();
  }

  private async send(method: string, url: string, call: HttpCall, body?: Buffer, contentType = 'application/json'): Promise<IncomingMessage> {
    try {
      return await this.sendOnce(method, url, call, body, contentType);
    } catch (err) {
      // A kept-alive connection the agent closed as idle just as this request went out on it
      // (its keep-alive timeout racing a busy client): the agent never read the request, so it
      // is sent again, once, on a new connection, as HTTP clients do (seen as ECONNRESET or
      // "socket hang up" on install-complete callbacks in the scale bench).
      if (!(err instanceof StaleConnection)) throw err;
      return this.sendOnce(method, url, call, body, contentType);
    }
  }

  private sendOnce(method: string, url: string, { localAddress, signal }: HttpCall, body?: Buffer, contentType = 'application/json'): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'http:') return reject(new Error(`${url}: the simulated firmware speaks plain http only`));
      const req = request(
        target,
        {
          method,
          agent: this.agent,
          signal,
          ...(localAddress ? { localAddress } : {}),
          headers: { 'user-agent': 'iPXE/1.21.1 (sprout simulator)', ...(body ? { 'content-type': contentType, 'content-length': body.length } : {}) },
        },
        resolve,
      );
      req.on('error', (err) => {
        if (signal.aborted) return reject(signal.reason);
        const stale = req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
        reject(stale ? new StaleConnection(`${method} ${url}: ${err.message}`) : new Error(`${method} ${url}: ${err.message}`));
      });
      req.end(body);
    });
  }
}

/** The request failed on a reused keep-alive connection before any answer: the server never read it. */
class StaleConnection extends Error {}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
