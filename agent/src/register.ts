/** Trades a join token for the agent's identity at the control plane. */
import { hostname as osHostname } from 'node:os';
import { explainTlsFailure } from '@sprout/kernel/sdk';
import type { AgentIdentity } from './credentials.ts';

export class RegistrationError extends Error {}

export async function register(input: {
  controlPlaneUrl: string;
  joinToken: string;
  hostname?: string;
  version: string;
  capabilities: string[];
}): Promise<AgentIdentity> {
  const url = new URL('v1/agents/register', input.controlPlaneUrl.endsWith('/') ? input.controlPlaneUrl : `${input.controlPlaneUrl}/`);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ joinToken: input.joinToken, hostname: input.hostname ?? osHostname(), version: input.version, capabilities: input.capabilities }),
    });
  } catch (err) {
    const tls = explainTlsFailure(err, input.controlPlaneUrl, 'ca: FILE in agent.yaml (or --ca FILE)');
    if (tls) throw new RegistrationError(`cannot join: ${tls}`);
    throw new RegistrationError(
      `cannot reach the control plane at ${input.controlPlaneUrl}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`,
    );
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new RegistrationError(`registration refused (HTTP ${response.status}${body.code ? `, ${body.code}` : ''}): ${body.detail ?? response.statusText}`);
  }
  return {
    agentId: body.agentId,
    siteId: body.siteId,
    siteName: body.siteName,
    credential: body.credential,
    controlPlaneUrl: input.controlPlaneUrl,
    heartbeatSeconds: body.heartbeatSeconds,
    transport: body.transport,
  };
}
