/**
 * One DHCP exchange (DISCOVER → OFFER → REQUEST → ACK) as a network-booting machine
 * sends it: first as PXE firmware (vendor class PXEClient, options 93/94/97), then as
 * iPXE (user class `iPXE`). It only reads what the server answered; whether the answer
 * boots anything is the caller's to judge.
 */
import { parseMac } from '@sprout/kernel/sdk';
import { blankMessage, bootRequest, encodeOption, messageType, messageTypes, opt, readOption, type DhcpMessage } from './dhcp-codec.ts';
import type { DhcpRelay } from './dhcp-relay.ts';

export type BootStage = 'pxe' | 'ipxe';

export interface DhcpAnswer {
  address: string;
  serverId: string;
  /** siaddr, else option 66; undefined when neither is set. */
  nextServer?: string;
  /** Option 67, else the `file` header field; undefined when the server named none. */
  bootFile?: string;
}

export type DhcpResult = { answer: DhcpAnswer } | { refused: string };

const broadcastFlag = 0x8000;
const maxMessageSize = 57;
/** What PXE firmware asks for (a typical Intel UNDI ROM's list). */
const pxeParameters = [
  1, 2, 3, 4, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
];
/** What iPXE asks for. */
const ipxeParameters = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203];
/** iPXE's feature flags (175): http, tftp, dns, bzimage, pxe. */
const ipxeFeatures = Buffer.from([19, 1, 1, 21, 1, 1, 23, 1, 1, 24, 1, 1, 33, 1, 1]);

export function macBytes(mac: string): Buffer {
  const normalised = parseMac(mac);
  if (!normalised) throw new TypeError(`${JSON.stringify(mac)} is not a MAC address`);
  return Buffer.from(normalised.replaceAll(':', ''), 'hex');
}

/** Options 60, 93, 94, 97 (and 77, 175, 61 for iPXE), as the firmware of this architecture sends them. */
function clientOptions(mac: Buffer, arch: 'bios' | 'uefi', stage: BootStage): Map<number, Buffer> {
  const archType = arch === 'uefi' ? 7 : 0;
  const options = new Map<number, Buffer>();
  options.set(maxMessageSize, Buffer.from([0x05, 0xc0])); // 1472
  options.set(opt.vendorClass, encodeOption.text(`PXEClient:Arch:${String(archType).padStart(5, '0')}:UNDI:${arch === 'uefi' ? '003016' : '002001'}`));
  options.set(opt.clientArch, Buffer.from([0, archType]));
  options.set(opt.clientNdi, Buffer.from([1, arch === 'uefi' ? 3 : 2, arch === 'uefi' ? 16 : 1]));
  // A stable SMBIOS UUID per machine: type 0, then 16 bytes ending in the MAC.
  options.set(opt.clientUuid, Buffer.concat([Buffer.from([0]), Buffer.from('5350524f5554', 'hex'), Buffer.alloc(4), mac]));
  if (stage === 'ipxe') {
    options.set(opt.userClass, encodeOption.text('iPXE'));
    options.set(opt.ipxeEncapsulated, ipxeFeatures);
    options.set(opt.clientId, Buffer.concat([Buffer.from([1]), mac]));
  }
  options.set(opt.parameterList, Buffer.from(stage === 'ipxe' ? ipxeParameters : pxeParameters));
  return options;
}

function request(type: number, xid: number, mac: Buffer, options: Map<number, Buffer>, secs: number): DhcpMessage {
  const message = blankMessage(bootRequest);
  message.xid = xid;
  message.secs = secs;
  message.flags = broadcastFlag;
  mac.copy(message.chaddr);
  message.options = new Map([[opt.messageType, encodeOption.u8(type)], ...options]);
  return message;
}

function answerOf(reply: DhcpMessage): DhcpAnswer {
  const siaddr = reply.siaddr !== '0.0.0.0' ? reply.siaddr : undefined;
  return {
    address: reply.yiaddr,
    serverId: readOption.address(reply.options.get(opt.serverId)) ?? '',
    nextServer: siaddr ?? readOption.text(reply.options.get(opt.tftpServerName)),
    bootFile: readOption.text(reply.options.get(opt.bootFileName)) || reply.file || undefined,
  };
}

/** DISCOVER → OFFER → REQUEST → ACK through the relay; `refused` when no lease came of it. */
export async function dhcpExchange(
  relay: DhcpRelay,
  machine: { mac: string; arch: 'bios' | 'uefi' },
  stage: BootStage,
  signal: AbortSignal,
  startedAt: number,
): Promise<DhcpResult> {
  const mac = macBytes(machine.mac);
  const options = clientOptions(mac, machine.arch, stage);
  const secs = () => Math.min(0xffff, Math.floor((Date.now() - startedAt) / 1000));
  const xid = relay.newXid();
  const offer = await relay.exchange(request(messageTypes.discover, xid, mac, options, secs()), (r) => messageType(r) === messageTypes.offer, signal);
  if (!offer) return { refused: `no DHCP offer (${stage === 'pxe' ? 'PXE firmware' : 'iPXE'} DISCOVER unanswered)` };
  const offered = answerOf(offer);
  const requestOptions = new Map(options);
  requestOptions.set(opt.requestedAddress, encodeOption.addresses([offered.address]));
  if (offered.serverId) requestOptions.set(opt.serverId, encodeOption.addresses([offered.serverId]));
  const ack = await relay.exchange(
    request(messageTypes.request, xid, mac, requestOptions, secs()),
    (r) => messageType(r) === messageTypes.ack || messageType(r) === messageTypes.nak,
    signal,
  );
  if (!ack) return { refused: `no answer to the DHCP REQUEST for ${offered.address}` };
  if (messageType(ack) === messageTypes.nak)
    return { refused: `DHCP NAK for ${offered.address}: ${readOption.text(ack.options.get(opt.message)) ?? 'no reason given'}` };
  const acked = answerOf(ack);
  return { answer: { ...acked, bootFile: acked.bootFile ?? offered.bootFile, nextServer: acked.nextServer ?? offered.nextServer } };
}
