/**
 * A client for the Kea Control Agent's command API: `POST /` with `{command, service,
 * arguments}`, answered by one `{result, text, arguments}` per service. Result 0 is
 * success and 3 is "empty" (nothing found); anything else becomes a SproutError with
 * Kea's words. The SDK's UpstreamClient does the HTTP part (timeout, status and error
 * mapping); the password never appears in a message.
 */
import { SproutError, UpstreamClient } from '@sprout/kernel/sdk';

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

export class KeaClient {
  private readonly http: UpstreamClient;

  constructor(private readonly options: KeaClientOptions) {
    const { pluginId, url, user, password, timeoutMs } = options;
    this.http = new UpstreamClient({
      pluginId,
      name: 'Kea Control Agent',
      url,
      headers: user === undefined ? {} : { authorization: `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` },
      secrets: [password],
      credentialsHint: `check plugins.${pluginId}.user and password`,
      timeoutMs,
    });
  }

  /** Sends one command; answers whose result is in `accept` come back, the rest throw. */
  async command<T = Record<string, unknown>>(command: string, args: Record<string, unknown>, accept: number[] = [keaSuccess]): Promise<KeaAnswer<T>> {
    const { service } = this.options;
    const { body } = await this.http.call<KeaAnswer<T> | KeaAnswer<T>[]>('POST', '', {
      body: { command, service: [service], arguments: args },
      accept: [200],
      action: command,
      context: { command },
    });
    const answer = Array.isArray(body) ? body[0] : body;
    if (typeof answer?.result !== 'number') {
      throw new SproutError(
        'SPROUT_ERR_UNAVAILABLE',
        `Kea Control Agent answered ${command} with something that is not a Kea response: ${this.http.excerpt(JSON.stringify(body) ?? '')}`,
        {
          context: { plugin: this.options.pluginId, command, upstreamStatus: 200 },
        },
      );
    }
    if (accept.includes(answer.result)) return answer;
    const said = { plugin: this.options.pluginId, command, upstreamStatus: 200, keaResult: answer.result, keaText: this.http.scrub(String(answer.text ?? '')) };
    if (answer.result === unsupported) {
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `Kea does not support ${command} (result ${answer.result}: ${said.keaText}); load the host_cmds hook library into ${service}`,
        { context: said },
      );
    }
    throw new SproutError('SPROUT_ERR_UNAVAILABLE', `Kea refused ${command} (result ${answer.result}): ${said.keaText}`, { context: said });
  }
}
