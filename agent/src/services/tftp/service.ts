/**
 * The `tftp` site service: serves iPXE and other boot files to PXE clients on the site's
 * networks. It reports nothing per transfer to the control plane; its counters ride the
 * heartbeat through health().
 */
import type { AgentServiceFactory } from '@sprout/kernel/sdk';
import { parseTftpSettings } from './settings.ts';
import { TftpServer } from './tftp-server.ts';

export const tftpService: AgentServiceFactory = async (ctx) => {
  const settings = parseTftpSettings(ctx.settings);
  const server = await TftpServer.start(settings, ctx.logger);
  ctx.logger.info({ address: settings.address, port: server.health().port, root: settings.root }, 'tftp: serving');
  return {
    health: () => ({ ...server.health() }),
    stop: () => server.stop(),
  };
};
