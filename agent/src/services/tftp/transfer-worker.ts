/**
 * A transfer worker of the TFTP service (settings `workers`): a child process that runs
 * read transfers the agent has accepted, each from its own ephemeral socket (its TID), so
 * transfers use more than one core. It never sees a raw request and checks nothing: the
 * agent validated the path and options. It loads only the transfer code, not the kernel.
 *
 * From the agent: `transfer` (an AcceptedTransfer with an id), `abort`, `stop`.
 * To the agent: `ready` once loaded, `progress` when a transfer's first block is
 * acknowledged, `refused` or `outcome` once per transfer, `bytes` (cumulative DATA bytes
 * sent, every 200 ms while they move).
 */
import { openTransfer, type AcceptedTransfer } from './open-transfer.ts';
import type { ReadTransfer } from './read-transfer.ts';
import { SharedFiles } from './shared-files.ts';

export type ToWorker =
  | { type: 'transfer'; id: number; accepted: AcceptedTransfer; sharedFileMaxBytes: number }
  | { type: 'abort'; id: number; reason: string; endedBy: 'server' | 'client' }
  | { type: 'stop' };

let sharedFiles: SharedFiles | undefined;
const running = new Map<number, ReadTransfer>();
/** Ids the agent aborted while they were still opening. */
const abortedWhileOpening = new Map<number, { reason: string; endedBy: 'server' | 'client' }>();
let finishedBytes = 0;
let reportedBytes = -1;
let stopping = false;

const send = (message: object) => {
  if (process.connected) process.send!(message);
};

function bytesSent(): number {
  let total = finishedBytes;
  for (const transfer of running.values()) total += transfer.bytesSent;
  return total;
}

const timer = setInterval(() => {
  const total = bytesSent();
  if (total === reportedBytes) return;
  reportedBytes = total;
  send({ type: 'bytes', total });
}, 200);

async function run(id: number, accepted: AcceptedTransfer, sharedFileMaxBytes: number): Promise<void> {
  sharedFiles ??= new SharedFiles(sharedFileMaxBytes, 4 * sharedFileMaxBytes);
  const opened = await openTransfer(
    accepted,
    sharedFiles,
    () => stopping,
    () => send({ type: 'progress', id }),
  );
  if (!opened.ok) {
    if (opened.code === null) return send({ type: 'outcome', id, outcome: { ok: false, bytesSent: 0, reason: 'Server shutting down' } });
    return send({ type: 'refused', id, code: opened.code, message: opened.message, log: opened.log });
  }
  const { transfer } = opened;
  running.set(id, transfer);
  const early = abortedWhileOpening.get(id);
  if (early) {
    abortedWhileOpening.delete(id);
    transfer.abort(early.reason, early.endedBy);
  } else transfer.start();
  const outcome = await transfer.done;
  running.delete(id);
  finishedBytes += outcome.bytesSent;
  send({ type: 'outcome', id, outcome });
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'transfer') {
    run(message.id, message.accepted, message.sharedFileMaxBytes).catch((err: Error) =>
      send({ type: 'outcome', id: message.id, outcome: { ok: false, bytesSent: 0, reason: `transfer worker: ${err.message}` } }),
    );
  } else if (message.type === 'abort') {
    const transfer = running.get(message.id);
    if (transfer) transfer.abort(message.reason, message.endedBy);
    else abortedWhileOpening.set(message.id, { reason: message.reason, endedBy: message.endedBy });
  } else if (message.type === 'stop') {
    void stop();
  }
});
// The agent gone (killed, or its channel closed) means stop: a worker never outlives it.
process.on('disconnect', () => void stop());

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  const transfers = [...running.values()];
  for (const transfer of transfers) transfer.abort('Server shutting down', 'server');
  await Promise.all(transfers.map((transfer) => transfer.done));
  // Outcomes are sent as each transfer ends; the last byte count follows them.
  if (!process.connected) process.exit(0);
  process.send!({ type: 'bytes', total: bytesSent() }, () => process.exit(0));
}

send({ type: 'ready' });
