/**
 * The DNS wire format (RFC 1035 §4) as the agent needs it: encoding the answers it
 * precomputes, and decoding the queries it is sent (decodeQuery). Names are written
 * uncompressed so a question can be swapped for the client's own spelling of the same
 * name without moving any offset; names read may use compression pointers.
 */
import { ipv4ToInt } from '@sprout/kernel/sdk';

export const recordType = { A: 1, NS: 2, SOA: 6, PTR: 12, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const recordClass = { IN: 1 } as const;
export const rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = (typeof rcode)[keyof typeof rcode];

export const headerSize = 12;
/** Byte 2 of the header: QR, opcode (4 bits), AA, TC, RD. */
export const flagQr = 0x80;
export const flagAa = 0x04;
export const flagTc = 0x02;
export const flagRd = 0x01;
/** What the agent advertises in its OPT record; 1232 avoids IP fragmentation (DNS flag day 2020). */
export const ednsPayloadSize = 1232;

/** Wire form of a name given as dotted labels (`''` is the root); undefined when a label is empty or too long. */
export function encodeName(name: string): Buffer | undefined {
  const labels = name === '' ? [] : name.split('.');
  const parts: Buffer[] = [];
  let length = 1;
  for (const label of labels) {
    // decodeQuery reads label octets as latin1 characters, so latin1 gives the same octets back.
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > 63) return undefined;
    length += bytes.length + 1;
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  if (length > 255) return undefined;
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function requireName(name: string): Buffer {
  const wire = encodeName(name);
  if (!wire) throw new Error(`${JSON.stringify(name)} cannot be written as a DNS name`);
  return wire;
}

export interface ResourceRecord {
  name: string;
  type: number;
  ttl: number;
  rdata: Buffer;
}

/** The question's name, as a compression pointer (RFC 1035 §4.1.4): it always starts right after the header. */
const questionNamePointer = Buffer.from([0xc0, headerSize]);

/** One resource record; `ownerIsQuestion` writes its owner as a pointer to the question's name. */
export function encodeRecord(rr: ResourceRecord, ownerIsQuestion = false): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(recordClass.IN, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([ownerIsQuestion ? questionNamePointer : requireName(rr.name), fixed, rr.rdata]);
}

export function addressData(address: string): Buffer {
  const data = Buffer.alloc(4);
  data.writeUInt32BE(ipv4ToInt(address, 'A record value'));
  return data;
}

export function nameData(name: string): Buffer {
  return requireName(name);
}

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function soaData(soa: SoaData): Buffer {
  const timers = Buffer.alloc(20);
  [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum].forEach((value, i) => timers.writeUInt32BE(value >>> 0, i * 4));
  return Buffer.concat([requireName(soa.mname), requireName(soa.rname), timers]);
}

/** The question section: name, type and class IN. */
export function encodeQuestion(wireName: Buffer, type: number): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(recordClass.IN, 2);
  return Buffer.concat([wireName, tail]);
}

export interface MessageParts {
  id?: number;
  /** Header byte 2 (QR, opcode, AA, TC, RD). */
  flags: number;
  rcode: Rcode;
  /** Encoded question, or none for a query whose question could not be read. */
  question?: Buffer;
  answers?: Buffer[];
  authorities?: Buffer[];
  additionals?: Buffer[];
}

export function encodeMessage(parts: MessageParts): Buffer {
  const header = Buffer.alloc(headerSize);
  header.writeUInt16BE(parts.id ?? 0, 0);
  header[2] = parts.flags;
  header[3] = parts.rcode;
  header.writeUInt16BE(parts.question ? 1 : 0, 4);
  header.writeUInt16BE(parts.answers?.length ?? 0, 6);
  header.writeUInt16BE(parts.authorities?.length ?? 0, 8);
  header.writeUInt16BE(parts.additionals?.length ?? 0, 10);
  return Buffer.concat([
    header,
    ...(parts.question ? [parts.question] : []),
    ...(parts.answers ?? []),
    ...(parts.authorities ?? []),
    ...(parts.additionals ?? []),
  ]);
}

/** An OPT pseudo-record (RFC 6891) for the additional section: EDNS version 0, no options. */
export const optRecord: Buffer = (() => {
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(recordType.OPT, 1);
  opt.writeUInt16BE(ednsPayloadSize, 3);
  return opt;
})();

/** A query as decodeQuery reads it: the header fields the answer needs, the question, and the additional records' types and classes. */
export interface Query {
  header: { id: number; qr: number; opcode: number; rd: number; qdcount: number };
  questions: { name: string; type: number; class: number }[];
  /** Type and class of each additional record: an OPT record's class is the client's UDP payload size. */
  additionals: { type: number; class: number }[];
}

/**
 * What a message that cannot be read as a query gets. `drop`: nothing at all (shorter
 * than a header: there is no id to answer to). `formerr`: the header is readable, so
 * the client is told FORMERR (RFC 1035 §4.1.1) with its id and flags.
 */
export type Unreadable = { unreadable: 'drop' | 'formerr'; reason: string; header?: Query['header'] };

/** Pointers a name may follow before it is taken for a loop (a name has at most 127 labels). */
const maxPointers = 127;

class WireError extends Error {}

/**
 * Reads a name at `offset` (RFC 1035 §4.1.4): labels, possibly ending in a compression
 * pointer. Pointers must point backwards (a pointer to itself or forwards is how loops
 * are built), the name must stay within 255 octets and inside the message, and the
 * label types 01 and 10 (RFC 6891 §5) are refused. Returns the dotted name (latin1
 * octets, as given) and the offset after the name where it appears.
 */
export function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  let end = -1;
  let length = 1;
  for (let pointers = 0; ; ) {
    if (at >= message.length) throw new WireError('a name runs past the end of the message');
    const byte = message[at];
    if ((byte & 0xc0) === 0xc0) {
      if (at + 1 >= message.length) throw new WireError('a compression pointer is cut short');
      const target = ((byte & 0x3f) << 8) | message[at + 1];
      if (target >= at) throw new WireError(`a compression pointer at ${at} points forwards or at itself (${target})`);
      if (++pointers > maxPointers) throw new WireError('a name follows too many compression pointers');
      if (end < 0) end = at + 2;
      at = target;
      continue;
    }
    if (byte & 0xc0) throw new WireError(`label type 0x${(byte & 0xc0).toString(16)} is not supported`);
    if (byte === 0) {
      if (end < 0) end = at + 1;
      return { name: labels.join('.'), end };
    }
    length += byte + 1;
    if (length > 255) throw new WireError('a name is longer than 255 octets');
    if (at + 1 + byte > message.length) throw new WireError('a label runs past the end of the message');
    labels.push(message.toString('latin1', at + 1, at + 1 + byte));
    at += 1 + byte;
  }
}

/**
 * Decodes a query: header, every question, the answer and authority records (skipped),
 * and the type and class of every additional record. Anything cut short, a count that
 * promises more than the message holds, a bad name or bytes left over make it
 * unreadable; then the header decides whether a FORMERR can be sent (see Unreadable).
 */
export function decodeQuery(message: Buffer): Query | Unreadable {
  if (message.length < headerSize) return { unreadable: 'drop', reason: `${message.length} octets is shorter than a DNS header` };
  const flags = message[2];
  const header = { id: message.readUInt16BE(0), qr: flags >> 7, opcode: (flags >> 3) & 0xf, rd: flags & flagRd, qdcount: message.readUInt16BE(4) };
  const ancount = message.readUInt16BE(6);
  const nscount = message.readUInt16BE(8);
  const arcount = message.readUInt16BE(10);
  try {
    let offset = headerSize;
    const questions: Query['questions'] = [];
    for (let i = 0; i < header.qdcount; i++) {
      const { name, end } = readName(message, offset);
      if (end + 4 > message.length) throw new WireError('a question is cut short');
      questions.push({ name, type: message.readUInt16BE(end), class: message.readUInt16BE(end + 2) });
      offset = end + 4;
    }
    const additionals: Query['additionals'] = [];
    for (let i = 0; i < ancount + nscount + arcount; i++) {
      const { end } = readName(message, offset);
      if (end + 10 > message.length) throw new WireError('a record is cut short');
      const rdlength = message.readUInt16BE(end + 8);
      if (end + 10 + rdlength > message.length) throw new WireError("a record's data runs past the end of the message");
      if (i >= ancount + nscount) additionals.push({ type: message.readUInt16BE(end), class: message.readUInt16BE(end + 2) });
      offset = end + 10 + rdlength;
    }
    if (offset !== message.length) throw new WireError(`${message.length - offset} octets after the last record`);
    // RFC 6891 §6.1.1: more than one OPT record is a format error.
    if (additionals.filter((r) => r.type === recordType.OPT).length > 1) throw new WireError('more than one OPT record');
    return { header, questions, additionals };
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    return { unreadable: 'formerr', reason: err.message, header };
  }
}

export function isUnreadable(decoded: Query | Unreadable): decoded is Unreadable {
  return 'unreadable' in decoded;
}
