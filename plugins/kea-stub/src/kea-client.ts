/**
 * A client for the Kea Control Agent's command API: `POST /` with `{command, service,
 * arguments}`, answered by one `{result, text, arguments}` per service. Result 0 is
 * success and 3 is "empty" (nothing found); anything else, or an HTTP failure, becomes a
 * SproutError with Kea's words. The password never appears in a message.
 */
import { SproutError } from '@sprout/kernel/sdk';

export interface KeaClientOptions {
  pluginId: string;
  url: string;
  user?: string;
  password?: string;
  /** The Kea server the agent forwards to, `dhcp4`. */
  service: string;
  timeoutMs: number;
}

export interface KeaAnswer<T = Record<string, unknown>> {
  result: number;
  text: string;
  arguments?: T;
}

export const keaSuccess = 0;
export const keaEmpty = 3;
const unsupported = 2;
const excerptLength = 300;

export class KeaClient {
  constructor(private readonly options: KeaClientOptions) {}

  /** Sends one command; answers whose result is in `accept` come back, the rest throw. */
  async command<T = Record<string, unknown>>(command: string, args: Record<string, unknown>, accept: number[] = [keaSuccess]): Promise<KeaAnswer<T>> {
    const { url, user, password, pluginId, service } = this.options;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (user !== undefined) headers.authorization = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ command, service: [service], arguments: args }), signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', `Kea Control Agent at ${url} did not answer ${command}: ${this.scrub(reason)}`, { cause: err, context: { plugin: pluginId, command } });
    }
    const text = await response.text();
    const context = { plugin: pluginId, command, upstreamStatus: response.status, upstreamBody: this.excerpt(text) };
    if (response.status === 401 || response.status === 403) {
      throw new SproutError('SPROUT_ERR_CONFIG', `Kea Control Agent refused ${command} with ${response.status} (${this.excerpt(text)}); check plugins.${pluginId}.user and password`, { context });
    }
    if (response.status !== 200) throw new SproutError('SPROUT_ERR_UNAVAILABLE', `Kea Control Agent answered ${response.status} to ${command}: ${this.excerpt(text)}`, { context });
    let answer: KeaAnswer<T>;
    try {
      const parsed = JSON.parse(text);
      answer = Array.isArray(parsed) ? parsed[0] : parsed;
      if (typeof answer?.result !== 'number') throw new Error('no result');
    } catch (err) {
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', `Kea Control Agent answered ${command} with something that is not a Kea response: ${this.excerpt(text)}`, { cause: err, context });
    }
    if (accept.includes(answer.result)) return answer;
    const said = { ...context, keaResult: answer.result, keaText: this.scrub(String(answer.text ?? '')) };
    if (answer.result === unsupported) {
      throw new SproutError('SPROUT_ERR_CONFIG', `Kea does not support ${command} (result ${answer.result}: ${said.keaText}); load the host_cmds hook library into ${service}`, { context: said });
    }
    throw new SproutError('SPROUT_ERR_UNAVAILABLE', `Kea refused ${command} (result ${answer.result}): ${said.keaText}`, { context: said });
  }

  private excerpt(text: string): string {
    const flat = this.scrub(text).replace(/\s+/g, ' ').trim();
    return flat.length > excerptLength ? `${flat.slice(0, excerptLength)}…` : flat || '(empty body)';
  }

  private scrub(text: string): string {
    return this.options.password ? text.split(this.options.password).join('********') : text;
  }
}
