/**
 * DHCPv4 messages (RFC 2131 BOOTP header, RFC 2132 options) to and from bytes. Pure
 * functions: decoding checks every length against the buffer and throws
 * MalformedDhcpPacket instead of reading past it; encoding refuses values the wire
 * cannot carry. No option overload (RFC 2131 §4.1 option 52) is interpreted.
 */
import { ipv4ToInt } from '@sprout/kernel/sdk';

export const bootRequest = 1;
export const bootReply = 2;

export const messageTypes = { discover: 1, offer: 2, request: 3, decline: 4, ack: 5, nak: 6, release: 7, inform: 8 } as const;

/** Option codes the server reads or writes. */
export const opt = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dnsServers: 6,
  hostname: 12,
  domainName: 15,
  broadcastAddress: 28,
  vendorSpecific: 43,
  requestedAddress: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterList: 55,
  message: 56,
  renewalTime: 58,
  rebindingTime: 59,
  vendorClass: 60,
  clientId: 61,
  tftpServerName: 66,
  bootFileName: 67,
  userClass: 77,
  relayAgentInfo: 82,
  clientArch: 93,
  clientNdi: 94,
  clientUuid: 97,
  ipxeEncapsulated: 175,
  end: 255,
} as const;

/** Fixed header (236 bytes) plus the magic cookie. */
export const headerLength = 240;
/** RFC 951/1542: BOOTP messages are at least 300 bytes; some PXE ROMs drop shorter replies. */
const minimumReplyLength = 300;
const magicCookie = 0x63825363;
const zeroAddress = '0.0.0.0';

export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-byte client hardware address field as sent. */
  chaddr: Buffer;
  sname: string;
  file: string;
  /** Options by code, in wire order; repeated codes are concatenated (RFC 3396). */
  options: Map<number, Buffer>;
}

export type MalformedReason = 'too-short' | 'bad-op' | 'bad-hlen' | 'bad-cookie' | 'option-truncated' | 'no-end-option' | 'bad-message-type';

/** A packet that is not a well-formed DHCP message; the server counts and drops these. */
export class MalformedDhcpPacket extends Error {
  readonly code = 'SPROUT_DHCP_MALFORMED';
  constructor(
    readonly reason: MalformedReason,
    message: string,
  ) {
    super(message);
    this.name = 'MalformedDhcpPacket';
  }
}

function readAddress(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function readCString(buf: Buffer, at: number, length: number): string {
  const field = buf.subarray(at, at + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? length : nul).toString('latin1');
}

/** Bytes → message. Throws MalformedDhcpPacket, never RangeError. */
export function decodeDhcp(buf: Buffer): DhcpMessage {
  if (buf.length < headerLength) throw new MalformedDhcpPacket('too-short', `${buf.length} bytes is shorter than a DHCP header (${headerLength})`);
  const op = buf[0]!;
  if (op !== bootRequest && op !== bootReply) throw new MalformedDhcpPacket('bad-op', `op ${op} is neither BOOTREQUEST nor BOOTREPLY`);
  const hlen = buf[2]!;
  if (hlen > 16) throw new MalformedDhcpPacket('bad-hlen', `hardware address length ${hlen} exceeds 16`);
  if (buf.readUInt32BE(236) !== magicCookie) throw new MalformedDhcpPacket('bad-cookie', 'no DHCP magic cookie');
  const options = new Map<number, Buffer>();
  let at = headerLength;
  let ended = false;
  while (at < buf.length) {
    const code = buf[at]!;
    if (code === opt.pad) {
      at += 1;
      continue;
    }
    if (code === opt.end) {
      ended = true;
      break;
    }
    if (at + 1 >= buf.length) throw new MalformedDhcpPacket('option-truncated', `option ${code} has no length byte`);
    const length = buf[at + 1]!;
    if (at + 2 + length > buf.length) throw new MalformedDhcpPacket('option-truncated', `option ${code} claims ${length} bytes past the end of the packet`);
    const value = Buffer.from(buf.subarray(at + 2, at + 2 + length));
    const earlier = options.get(code);
    options.set(code, earlier ? Buffer.concat([earlier, value]) : value);
    at += 2 + length;
  }
  if (!ended) throw new MalformedDhcpPacket('no-end-option', 'options do not end with the END option');
  const type = options.get(opt.messageType);
  if (type !== undefined && (type.length !== 1 || type[0]! < 1 || type[0]! > 8)) {
    throw new MalformedDhcpPacket('bad-message-type', `message type option must be one byte 1–8`);
  }
  return {
    op,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: readAddress(buf, 12),
    yiaddr: readAddress(buf, 16),
    siaddr: readAddress(buf, 20),
    giaddr: readAddress(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: readCString(buf, 44, 64),
    file: readCString(buf, 108, 128),
    options,
  };
}

function writeAddress(buf: Buffer, at: number, address: string, field: string): void {
  buf.writeUInt32BE(ipv4ToInt(address, field), at);
}

function writeCString(buf: Buffer, at: number, length: number, value: string, field: string): void {
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.length >= length) throw new TypeError(`${field} is ${bytes.length} bytes; at most ${length - 1} fit`);
  bytes.copy(buf, at);
}

/** Message → bytes, padded to the BOOTP minimum. Options longer than 255 bytes are split (RFC 3396). */
export function encodeDhcp(message: DhcpMessage): Buffer {
  const chunks: Buffer[] = [];
  for (const [code, value] of message.options) {
    if (!Number.isInteger(code) || code <= opt.pad || code >= opt.end) throw new TypeError(`option code ${code} cannot be encoded`);
    let at = 0;
    do {
      const part = value.subarray(at, at + 255);
      chunks.push(Buffer.from([code, part.length]), part);
      at += 255;
    } while (at < value.length);
  }
  chunks.push(Buffer.from([opt.end]));
  const options = Buffer.concat(chunks);
  const buf = Buffer.alloc(Math.max(minimumReplyLength, headerLength + options.length));
  if (message.hlen > 16 || message.chaddr.length > 16) throw new TypeError('hardware address longer than 16 bytes');
  buf[0] = message.op;
  buf[1] = message.htype;
  buf[2] = message.hlen;
  buf[3] = message.hops;
  buf.writeUInt32BE(message.xid >>> 0, 4);
  buf.writeUInt16BE(message.secs, 8);
  buf.writeUInt16BE(message.flags, 10);
  writeAddress(buf, 12, message.ciaddr, 'ciaddr');
  writeAddress(buf, 16, message.yiaddr, 'yiaddr');
  writeAddress(buf, 20, message.siaddr, 'siaddr');
  writeAddress(buf, 24, message.giaddr, 'giaddr');
  message.chaddr.copy(buf, 28, 0, 16);
  writeCString(buf, 44, 64, message.sname, 'sname');
  writeCString(buf, 108, 128, message.file, 'file');
  buf.writeUInt32BE(magicCookie, 236);
  options.copy(buf, headerLength);
  return buf;
}

/** An empty message of the given op, for building requests (tests) and replies. */
export function blankMessage(op: number): DhcpMessage {
  return {
    op,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: zeroAddress,
    yiaddr: zeroAddress,
    siaddr: zeroAddress,
    giaddr: zeroAddress,
    chaddr: Buffer.alloc(16),
    sname: '',
    file: '',
    options: new Map(),
  };
}

/** Option value helpers: what the server writes. */
export const encodeOption = {
  u8: (value: number): Buffer => Buffer.from([value]),
  u32: (value: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    return b;
  },
  addresses: (addresses: string[]): Buffer => {
    const b = Buffer.alloc(addresses.length * 4);
    addresses.forEach((a, i) => writeAddress(b, i * 4, a, 'address option'));
    return b;
  },
  text: (value: string): Buffer => Buffer.from(value, 'latin1'),
};

/** Option value helpers: what the server reads; each returns undefined when the value has the wrong shape. */
export const readOption = {
  u8: (value: Buffer | undefined): number | undefined => (value?.length === 1 ? value[0] : undefined),
  address: (value: Buffer | undefined): string | undefined => (value?.length === 4 ? readAddress(value, 0) : undefined),
  text: (value: Buffer | undefined): string | undefined => value?.toString('latin1'),
  /** Option 93: a list of 16-bit architecture types (RFC 4578 §2.1). */
  u16List: (value: Buffer | undefined): number[] | undefined => {
    if (!value || value.length === 0 || value.length % 2 !== 0) return undefined;
    const list: number[] = [];
    for (let i = 0; i < value.length; i += 2) list.push(value.readUInt16BE(i));
    return list;
  },
};

/** `aa:bb:cc:dd:ee:ff` from an Ethernet chaddr; undefined for other hardware types. */
export function clientMac(message: DhcpMessage): string | undefined {
  if (message.htype !== 1 || message.hlen !== 6) return undefined;
  return [...message.chaddr.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function messageType(message: DhcpMessage): number | undefined {
  return readOption.u8(message.options.get(opt.messageType));
}
