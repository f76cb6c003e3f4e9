/**
 * The PowerDNS Authoritative HTTP API as PowerDNS expects to be called: `X-API-Key`,
 * JSON both ways, zones addressed by their canonical name. The SDK's UpstreamClient does
 * the calling, the timeout and the error mapping (PowerDNS's status and its `error`
 * text; the API key never appears in a message).
 */
import { UpstreamClient } from '@sprout/kernel/sdk';

export interface PowerdnsClientOptions {
  pluginId: string;
  url: string;
  apiKey: string;
  timeoutMs: number;
}

export class PowerdnsClient extends UpstreamClient {
  constructor({ pluginId, url, apiKey, timeoutMs }: PowerdnsClientOptions) {
    super({
      pluginId,
      name: 'PowerDNS',
      url,
      headers: { 'x-api-key': apiKey },
      secrets: [apiKey],
      credentialsHint: `check plugins.${pluginId}.apiKey`,
      timeoutMs,
    });
  }
}
