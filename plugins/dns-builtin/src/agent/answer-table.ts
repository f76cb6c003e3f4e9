/**
 * Every answer the agent can give, encoded once per desired state: a query costs a map
 * lookup, a copy, and patching the id, the RD bit and the client's spelling of the
 * name into the question. Only NXDOMAIN and error responses are assembled per query,
 * and those from precomputed parts. It never answers a response (QR set).
 */
import {
  addressData,
  encodeMessage,
  encodeName,
  encodeQuestion,
  encodeRecord,
  flagAa,
  flagQr,
  flagRd,
  flagTc,
  headerSize,
  nameData,
  optRecord,
  rcode,
  recordClass,
  recordType,
  soaData,
  ednsPayloadSize,
  type Query,
  type Rcode,
  type ResourceRecord,
} from './wire.ts';
import { enclosingZone } from './names.ts';
import type { Zone, ZoneSet } from './zones.ts';

export type { Query };

export type Transport = 'udp' | 'tcp';

export interface Answer {
  message: Buffer;
  rcode: Rcode;
  truncated: boolean;
}

const udpWithoutEdns = 512;

export class AnswerTable {
  readonly zones: string[];
  readonly recordCount: number;
  /** `<name> <type>` → a complete response with id 0 and RD clear. */
  private readonly exact = new Map<string, Buffer>();
  /**
   * The same responses by a hash of the question's wire bytes (lowercase name, then type;
   * see questionHash), for queries answered without parsing: hashing the bytes where they
   * lie costs less than making a string of them to look up.
   */
  private readonly exactByWire = new Map<number, WireAnswer[]>();
  /** Names that exist (with records, or as empty non-terminals) → a NOERROR/no-data response whose question type is patched in. */
  private readonly noData = new Map<string, Buffer>();
  /** Zone → its SOA as the authority record of a negative answer (RFC 2308 §3). */
  private readonly negativeSoa = new Map<string, Buffer>();
  private readonly served: ReadonlyMap<string, Zone>;

  constructor(
    set: ZoneSet,
    readonly serial: number,
  ) {
    this.served = set.zones;
    this.zones = [...set.zones.keys()];
    this.recordCount = set.records.length;

    const rrsets = new Map<string, Map<number, ResourceRecord[]>>();
    const add = (rr: ResourceRecord) => {
      let byType = rrsets.get(rr.name);
      if (!byType) rrsets.set(rr.name, (byType = new Map()));
      byType.set(rr.type, [...(byType.get(rr.type) ?? []), rr]);
    };
    for (const zone of set.zones.values()) {
      const soa = soaData({ ...zone, serial });
      add({ name: zone.name, type: recordType.SOA, ttl: zone.ttl, rdata: soa });
      add({ name: zone.name, type: recordType.NS, ttl: zone.ttl, rdata: nameData(zone.nameserver) });
      // RFC 2308 §5: a negative answer may be cached for the lesser of the SOA's TTL and MINIMUM.
      this.negativeSoa.set(zone.name, encodeRecord({ name: zone.name, type: recordType.SOA, ttl: Math.min(zone.ttl, zone.minimum), rdata: soa }));
    }
    const addresses = new Map<string, ResourceRecord[]>();
    for (const record of set.records) {
      const rr = {
        name: record.name,
        type: recordType[record.type],
        ttl: record.ttl,
        rdata: record.type === 'A' ? addressData(record.value) : nameData(record.value),
      };
      add(rr);
      if (record.type === 'A') addresses.set(record.name, [...(addresses.get(record.name) ?? []), rr]);
    }

    const flags = flagQr | flagAa;
    for (const [name, byType] of rrsets) {
      const wireName = encodeName(name)!;
      const all: ResourceRecord[] = [];
      for (const [type, rrs] of byType) {
        all.push(...rrs);
        // The nameserver's address in the additional section saves the resolver a lookup.
        const glue = type === recordType.NS ? (addresses.get(this.served.get(name)?.nameserver ?? '') ?? []) : [];
        this.setExact(
          name,
          wireName,
          type,
          encodeMessage({
            flags,
            rcode: rcode.NOERROR,
            question: encodeQuestion(wireName, type),
            answers: rrs.map((rr) => encodeRecord(rr, true)),
            additionals: glue.map((rr) => encodeRecord(rr)),
          }),
        );
      }
      this.setExact(
        name,
        wireName,
        recordType.ANY,
        encodeMessage({ flags, rcode: rcode.NOERROR, question: encodeQuestion(wireName, recordType.ANY), answers: all.map((rr) => encodeRecord(rr, true)) }),
      );
    }
    for (const name of rrsets.keys()) {
      const zone = enclosingZone(name, this.served)!;
      // Every name between a record and its zone's apex exists too (an empty non-terminal), so it is no-data, not NXDOMAIN.
      for (let existing = name; ; existing = existing.slice(existing.indexOf('.') + 1)) {
        if (!this.noData.has(existing)) {
          this.noData.set(
            existing,
            encodeMessage({ flags, rcode: rcode.NOERROR, question: encodeQuestion(encodeName(existing)!, 0), authorities: [this.negativeSoa.get(zone)!] }),
          );
        }
        if (existing === zone) break;
      }
    }
  }

  private setExact(name: string, wireName: Buffer, type: number, response: Buffer): void {
    this.exact.set(`${name} ${type}`, response);
    const question = Buffer.alloc(wireName.length + 2);
    for (let i = 0; i < wireName.length; i++) question[i] = foldCase(wireName[i]);
    question.writeUInt16BE(type, wireName.length);
    const hash = questionHash(question, 0, wireName.length);
    const bucket = this.exactByWire.get(hash);
    if (bucket) bucket.push({ question, response });
    else this.exactByWire.set(hash, [{ question, response }]);
  }

  /**
   * The answer to a raw UDP query whose response is precomputed — one plain question
   * (class IN, ASCII name without compression) and at most an OPT record — found
   * without parsing the message into objects: a lookup on the question's bytes, a copy,
   * and the id, RD bit and client's spelling patched in. Undefined for anything else
   * (responses, other opcodes, names not in the table, answers that need TC): the caller
   * then parses the message and asks respond(), which gives the same answer slower.
   */
  respondToUdpWire(message: Buffer): Answer | undefined {
    if (message.length < headerSize + 5) return undefined;
    const flags = message[2];
    // QR clear and opcode 0 (QUERY); qdcount 1, no answers or authorities, at most one additional.
    if ((flags & 0xf8) !== 0 || message.readUInt16BE(4) !== 1 || message.readUInt16BE(6) !== 0 || message.readUInt16BE(8) !== 0) return undefined;
    const arcount = message.readUInt16BE(10);
    if (arcount > 1) return undefined;
    let offset = headerSize;
    for (;;) {
      const length = message[offset];
      if (length === undefined || length > 63) return undefined; // past the end, or a compression pointer
      offset += 1;
      if (length === 0) break;
      if (offset + length > message.length) return undefined;
      for (let i = offset; i < offset + length; i++) {
        const byte = message[i];
        // A dot inside a label, or a non-ASCII octet, reads differently once parsed: leave those to respond().
        if (byte === 0x2e || byte >= 0x80) return undefined;
      }
      offset += length;
    }
    const nameEnd = offset;
    if (nameEnd + 4 > message.length || message.readUInt16BE(nameEnd + 2) !== recordClass.IN) return undefined;
    let payload = udpWithoutEdns;
    if (arcount === 1) {
      // Only an OPT record (root owner, type 41) is understood here; its class is the client's UDP payload size.
      const opt = nameEnd + 4;
      if (opt + 11 > message.length || message[opt] !== 0 || message.readUInt16BE(opt + 1) !== recordType.OPT) return undefined;
      payload = Math.min(Math.max(message.readUInt16BE(opt + 3), udpWithoutEdns), ednsPayloadSize);
    }
    const template = this.findByWire(message, nameEnd);
    if (!template) return undefined;
    const size = template.length + (arcount === 1 ? optRecord.length : 0);
    if (size > payload) return undefined;
    const out = Buffer.allocUnsafe(size);
    out.set(template, 0);
    out[0] = message[0];
    out[1] = message[1];
    out[2] |= flags & flagRd;
    // The client's spelling of the name (0x20 case randomisation survives); same length as the template's.
    for (let i = headerSize; i < nameEnd; i++) out[i] = message[i];
    if (arcount === 1) {
      out.set(optRecord, template.length);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    return { message: out, rcode: rcode.NOERROR, truncated: false };
  }

  /** The precomputed response to the question at `headerSize`…`nameEnd` + type in `message`, compared with its case folded. */
  private findByWire(message: Buffer, nameEnd: number): Buffer | undefined {
    const bucket = this.exactByWire.get(questionHash(message, headerSize, nameEnd));
    if (!bucket) return undefined;
    const length = nameEnd - headerSize + 2;
    next: for (const { question, response } of bucket) {
      if (question.length !== length) continue;
      for (let i = 0; i < length; i++) if (question[i] !== foldCase(message[headerSize + i])) continue next;
      return response;
    }
    return undefined;
  }

  /** The response to a query, or undefined for a message that must not be answered. */
  respond(query: Query, transport: Transport): Answer | undefined {
    const { header } = query;
    if (header.qr) return undefined;
    const edns = query.additionals.find((r) => r?.type === recordType.OPT);
    const rd = header.rd ? flagRd : 0;
    const question = query.questions.length === 1 && header.qdcount === 1 ? query.questions[0] : undefined;
    const wireName = question ? encodeName(question.name) : undefined;
    const error = (code: Rcode) =>
      this.finish(
        encodeMessage({
          id: header.id,
          flags: flagQr | ((header.opcode & 0xf) << 3) | rd,
          rcode: code,
          question: question && wireName ? encodeQuestion(wireName, question.type) : undefined,
        }),
        code,
        edns,
        transport,
      );

    if (header.opcode !== 0) return error(rcode.NOTIMP);
    if (!question || !wireName) return error(rcode.FORMERR);
    if (question.class !== recordClass.IN) return error(rcode.REFUSED);
    // Zone transfers are not offered: the agent is the only server for its zones.
    if (question.type === recordType.AXFR || question.type === recordType.IXFR) return error(rcode.REFUSED);

    const name = question.name.toLowerCase();
    const exact = this.exact.get(`${name} ${question.type}`);
    if (exact) return this.finish(patch(exact, header.id, rd, wireName), rcode.NOERROR, edns, transport);
    const noData = this.noData.get(name);
    if (noData) {
      const message = patch(noData, header.id, rd, wireName);
      message.writeUInt16BE(question.type, headerSize + wireName.length);
      return this.finish(message, rcode.NOERROR, edns, transport);
    }
    const zone = enclosingZone(name, this.served);
    if (!zone) return error(rcode.REFUSED);
    const nxdomain = encodeMessage({
      id: header.id,
      flags: flagQr | flagAa | rd,
      rcode: rcode.NXDOMAIN,
      question: encodeQuestion(wireName, question.type),
      authorities: [this.negativeSoa.get(zone)!],
    });
    return this.finish(nxdomain, rcode.NXDOMAIN, edns, transport);
  }

  /**
   * The response to a message whose header could be read but not the rest (decodeQuery
   * said FORMERR): nothing for a response, NOTIMP for another opcode, else FORMERR;
   * header only, since neither its question nor its OPT record could be trusted.
   */
  respondUnreadable(header: Query['header']): Answer | undefined {
    if (header.qr) return undefined;
    const code = header.opcode !== 0 ? rcode.NOTIMP : rcode.FORMERR;
    return {
      message: encodeMessage({ id: header.id, flags: flagQr | ((header.opcode & 0xf) << 3) | (header.rd ? flagRd : 0), rcode: code }),
      rcode: code,
      truncated: false,
    };
  }

  /** Adds the OPT record an EDNS query asks for, and truncates what UDP cannot carry (RFC 1035 §4.2.1). */
  private finish(message: Buffer, code: Rcode, edns: { class: number } | null | undefined, transport: Transport): Answer {
    const limit = transport === 'tcp' ? 0xffff : edns ? Math.min(Math.max(edns.class, udpWithoutEdns), ednsPayloadSize) : udpWithoutEdns;
    let out = edns ? withOpt(message) : message;
    let truncated = false;
    if (out.length > limit) {
      // Header and question only, TC set: the client retries over TCP.
      const questionEnd = endOfQuestion(message);
      const short = Buffer.from(message.subarray(0, questionEnd));
      short[2] |= flagTc;
      short.fill(0, 6, 12);
      out = edns ? withOpt(short) : short;
      truncated = true;
    }
    return { message: out, rcode: code, truncated };
  }
}

interface WireAnswer {
  /** The question as the table holds it: the name's wire bytes lowercased, then the type. */
  question: Buffer;
  response: Buffer;
}

/** ASCII letters to lowercase; every other octet (label lengths are below 64, never letters) as it is. */
function foldCase(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}

/** A hash of a question: the name's octets in `bytes[from, nameEnd)` with their case folded, then the two octets of the type. */
function questionHash(bytes: Buffer, from: number, nameEnd: number): number {
  let hash = 0x811c9dc5;
  for (let i = from; i < nameEnd + 2; i++) hash = Math.imul(hash ^ foldCase(bytes[i]), 0x01000193);
  return hash;
}

function patch(template: Buffer, id: number, rd: number, wireName: Buffer): Buffer {
  const message = Buffer.from(template);
  message.writeUInt16BE(id, 0);
  message[2] |= rd;
  // Echo the client's spelling of the name (it may use 0x20 case randomisation); the
  // template's lowercase name has the same length, so nothing after it moves.
  if (message[headerSize + wireName.length - 1] === 0) wireName.copy(message, headerSize);
  return message;
}

function withOpt(message: Buffer): Buffer {
  const out = Buffer.concat([message, optRecord]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** Where the question ends in a message this module encoded (uncompressed name). */
function endOfQuestion(message: Buffer): number {
  if (message.readUInt16BE(4) === 0) return headerSize;
  let offset = headerSize;
  while (message[offset] !== 0) offset += message[offset] + 1;
  return offset + 1 + 4;
}
