/**
 * UDP sockets for the TFTP service. Every address they send to is an IP literal (a
 * client's source address), so the DNS lookup Node's dgram runs before each send is
 * replaced by one that hands the literal straight back, synchronously: no resolver
 * call, no regular expression and no extra tick per DATA packet.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export function createTftpSocket(address: string): Socket {
  const family = isIPv6(address) ? 6 : 4;
  return createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    lookup: (literal: string, _options: unknown, callback: (err: null, address: string, family: number) => void) => callback(null, literal, family),
  });
}
