/**
 * TFTP packets on the wire (RFC 1350, options RFC 2347): decoding what a client sends
 * and encoding what the server answers. Pure functions over buffers; no sockets here.
 */

export const opcodes = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** TFTP error codes (RFC 1350 §5, RFC 2347 for 8). */
export const tftpErrors = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionNegotiation: 8,
} as const;

export type TftpErrorCode = (typeof tftpErrors)[keyof typeof tftpErrors];

export type ClientPacket =
  | { op: 'RRQ' | 'WRQ'; filename: string; mode: string; options: Map<string, string> }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'DATA'; block: number; data: Buffer }
  | { op: 'OACK'; options: Map<string, string> };

/** Reads a packet a client sent; `null` for anything malformed (answered with error 4 by the caller). */
export function decodePacket(packet: Buffer): ClientPacket | null {
  if (packet.length < 4) return null;
  const op = packet.readUInt16BE(0);
  switch (op) {
    case opcodes.RRQ:
    case opcodes.WRQ: {
      const fields = nulTerminatedFields(packet, 2);
      if (!fields || fields.length < 2 || fields[0] === '') return null;
      const [filename, mode, ...rest] = fields;
      // Option names are case-insensitive (RFC 2347); a trailing unpaired field is ignored.
      const options = new Map<string, string>();
      for (let i = 0; i + 1 < rest.length; i += 2) options.set(rest[i].toLowerCase(), rest[i + 1]);
      return { op: op === opcodes.RRQ ? 'RRQ' : 'WRQ', filename, mode: mode.toLowerCase(), options };
    }
    case opcodes.ACK:
      return { op: 'ACK', block: packet.readUInt16BE(2) };
    case opcodes.DATA:
      return { op: 'DATA', block: packet.readUInt16BE(2), data: packet.subarray(4) };
    case opcodes.ERROR: {
      const end = packet.indexOf(0, 4);
      return { op: 'ERROR', code: packet.readUInt16BE(2), message: packet.toString('latin1', 4, end === -1 ? packet.length : end) };
    }
    case opcodes.OACK: {
      const fields = nulTerminatedFields(packet, 2);
      if (!fields) return null;
      const options = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) options.set(fields[i].toLowerCase(), fields[i + 1]);
      return { op: 'OACK', options };
    }
    default:
      return null;
  }
}

/** Splits NUL-terminated strings from `offset` to the end; `null` if the last one is unterminated. */
function nulTerminatedFields(packet: Buffer, offset: number): string[] | null {
  const fields: string[] = [];
  let start = offset;
  while (start < packet.length) {
    const end = packet.indexOf(0, start);
    if (end === -1) return null;
    fields.push(packet.toString('latin1', start, end));
    start = end + 1;
  }
  return fields;
}

export function encodeAck(block: number): Buffer {
  const packet = Buffer.allocUnsafe(4);
  packet.writeUInt16BE(opcodes.ACK, 0);
  packet.writeUInt16BE(block & 0xffff, 2);
  return packet;
}

export function encodeError(code: TftpErrorCode, message: string): Buffer {
  const text = Buffer.from(message, 'latin1');
  const packet = Buffer.alloc(4 + text.length + 1);
  packet.writeUInt16BE(opcodes.ERROR, 0);
  packet.writeUInt16BE(code, 2);
  text.copy(packet, 4);
  return packet;
}

export function encodeOack(options: ReadonlyMap<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, opcodes.OACK])];
  for (const [name, value] of options) parts.push(Buffer.from(`${name}\0${value}\0`, 'latin1'));
  return Buffer.concat(parts);
}

/** A request packet as a client builds it; used by clients (and tests), never by the server. */
export function encodeRequest(op: 'RRQ' | 'WRQ', filename: string, mode: string, options: ReadonlyMap<string, string> = new Map()): Buffer {
  const parts: Buffer[] = [Buffer.from([0, opcodes[op]]), Buffer.from(`${filename}\0${mode}\0`, 'latin1')];
  for (const [name, value] of options) parts.push(Buffer.from(`${name}\0${value}\0`, 'latin1'));
  return Buffer.concat(parts);
}
