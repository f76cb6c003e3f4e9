/**
 * NetBox's REST API as NetBox expects to be called: `Authorization: Token …`, JSON both
 * ways. The SDK's UpstreamClient does the calling, the timeout and the error mapping
 * (NetBox's status and an excerpt of its body; the token never appears in a message).
 */
import { UpstreamClient, type UpstreamAnswer } from '@sprout/kernel/sdk';

export interface NetboxClientOptions {
  pluginId: string;
  url: string;
  token: string;
  timeoutMs: number;
}

export type NetboxAnswer<T> = UpstreamAnswer<T>;

export class NetboxClient extends UpstreamClient {
  constructor({ pluginId, url, token, timeoutMs }: NetboxClientOptions) {
    super({
      pluginId,
      name: 'NetBox',
      url,
      headers: { authorization: `Token ${token}` },
      secrets: [token],
      credentialsHint: `check plugins.${pluginId}.token and the token's permissions`,
      timeoutMs,
    });
  }
}
