export { tftpService } from './service.ts';
export { defaultTftpSettings, type TftpSettings } from './settings.ts';
