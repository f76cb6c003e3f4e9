/**
 * Option negotiation for a read request: blksize (RFC 2348), tsize (RFC 2349) and
 * windowsize (RFC 7440). The server only ever answers with values it will use, never
 * larger than asked; options it does not know or cannot parse are left out of the OACK,
 * which RFC 2347 allows, so an odd client still gets its file with the defaults.
 */

export const defaultBlksize = 512;
export const minBlksize = 8;
export const maxBlksizeOnWire = 65464;
export const maxWindowsize = 64;

export interface NegotiatedTransfer {
  blksize: number;
  windowsize: number;
  /** The options to acknowledge in an OACK, in the order the client asked; empty means no OACK. */
  acknowledged: Map<string, string>;
}

/** `limits.maxBlksize` caps what a client may ask (an Ethernet MTU fits 1468). */
export function negotiateOptions(requested: ReadonlyMap<string, string>, fileSize: number, limits: { maxBlksize: number }): NegotiatedTransfer {
  const acknowledged = new Map<string, string>();
  let blksize = defaultBlksize;
  let windowsize = 1;
  for (const [name, value] of requested) {
    const asked = parseDecimal(value);
    if (name === 'blksize' && asked !== null && asked >= minBlksize) {
      blksize = Math.min(asked, limits.maxBlksize, maxBlksizeOnWire);
      acknowledged.set(name, String(blksize));
    } else if (name === 'tsize' && asked !== null && fileSize > 0) {
      // A reader sends 0 and learns the size. An empty file gets no tsize: curl rejects
      // an OACK with tsize 0 as illegal, and leaving an option out is always allowed.
      acknowledged.set(name, String(fileSize));
    } else if (name === 'windowsize' && asked !== null && asked >= 1) {
      windowsize = Math.min(asked, maxWindowsize);
      acknowledged.set(name, String(windowsize));
    }
  }
  return { blksize, windowsize, acknowledged };
}

function parseDecimal(value: string): number | null {
  if (!/^[0-9]{1,10}$/.test(value)) return null;
  return Number(value);
}
