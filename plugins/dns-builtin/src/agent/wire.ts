/**
 * DNS message encoding (RFC 1035 §4) for the answers the agent precomputes. Names are
 * written uncompressed so a question can be swapped for the client's own spelling of
 * the same name without moving any offset. Parsing queries is dns2's job, not this.
 */

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
    // dns2 decodes label octets as latin1 characters, so latin1 gives the same octets back.
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
  return Buffer.from(address.split('.').map(Number));
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
  return Buffer.concat([header, ...(parts.question ? [parts.question] : []), ...(parts.answers ?? []), ...(parts.authorities ?? []), ...(parts.additionals ?? [])]);
}

/** An OPT pseudo-record (RFC 6891) for the additional section: EDNS version 0, no options. */
export const optRecord: Buffer = (() => {
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(recordType.OPT, 1);
  opt.writeUInt16BE(ednsPayloadSize, 3);
  return opt;
})();
