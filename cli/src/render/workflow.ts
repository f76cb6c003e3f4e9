/** How a workflow reads in a terminal, and following one until it ends. */
import type { WorkflowView } from '@sprout/kernel';
import type { ApiClient } from '@sprout/kernel/cli';
import { ok, table } from '@sprout/kernel/cli';

/** The API's workflow representation (type only). */
export type Workflow = WorkflowView;

export const finished = ['succeeded', 'failed', 'cancelled', 'timed_out'];

export function workflowDetails(w: Workflow): string {
  const cancel = w.cancelRequested && !finished.includes(w.state) ? ' (cancel requested)' : '';
  const head = `workflow ${w.id}  ${w.kind} ${w.machine ? `of ${w.machine.hostname} ` : ''}at ${w.site.name}: ${w.state.toUpperCase()}${cancel}${w.error ? ` — ${w.error}` : ''}`;
  const rows = w.steps.map((s) => [s.name, s.kind, s.state, s.attempt, duration(s.startedAt, s.finishedAt), stepNote(s)]);
  // Secrets by digest only: the value is `sprout workflow user-data <id>` (operators).
  const secrets = (w.secrets ?? []).map((s) => `\n${s.name}: ${s.size} bytes, sha256 ${s.sha256}`).join('');
  return `${head}\nby ${w.createdBy} at ${w.createdAt}${secrets}\n\n${table(['STEP', 'KIND', 'STATE', 'TRY', 'TOOK', 'NOTE'], rows)}${waiting(w)}`;
}

/**
 * The step the workflow waits on, for how long and for what, and its last log lines: a
 * stuck step shows its last words, not only "running".
 */
function waiting(w: Workflow, now = Date.now()): string {
  const step = activeStep(w);
  if (!step || finished.includes(w.state)) return '';
  const since = step.startedAt ?? w.updatedAt ?? w.createdAt;
  const what = step.waitingFor ?? (step.kind === 'site' ? 'waiting for the site agent to report' : 'running');
  const lines = [`\n\nnow: ${step.name} ${step.state} for ${elapsed(since, now)} — ${what}${w.cancelRequested ? '; cancel requested' : ''}`];
  const heard = machineHeard(step, now);
  if (heard) lines.push(heard);
  const tail = step.logTail.slice(-5);
  if (tail.length) lines.push(`last log lines of ${step.name}:`, ...tail.map((l) => `  | ${l}`));
  return lines.join('\n');
}

/** When the step's machine last called its agent back (installer, hardware tests, installed OS): a silent one is a dead one. */
export function machineHeard(step: Step, now = Date.now()): string | undefined {
  if (step.machineHeardAt) return `the machine was last heard from ${elapsed(step.machineHeardAt, now)} ago (${step.machineHeardAt})`;
  return undefined;
}

/** The step a workflow is at now: the one running or handed to its agent. */
export function activeStep(w: Workflow): Step | undefined {
  return w.steps.find((s) => s.state === 'running' || s.state === 'dispatched');
}

/** `42 s`, `3 min 5 s`, `2 h 10 min`. */
export function elapsed(since: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function workflowTable(items: Workflow[]): string {
  return table(
    ['ID', 'KIND', 'MACHINE', 'STATE', 'STEP', 'CREATED'],
    items.map((w) => [w.id, w.kind, w.machine?.hostname, w.state, w.steps.find((s) => s.state !== 'succeeded')?.name, w.createdAt]),
  );
}

type Step = Workflow['steps'][number];

/** What a step's row says: its error, what it waits for, or, while it runs, its last log line (e.g. "waiting for someone to power on node-01"). */
function stepNote(s: Step): string {
  return s.error ?? s.waitingFor ?? (s.state === 'running' ? (s.logTail.at(-1) ?? '') : '');
}

/** The step a workflow is at now and what it last said: `power-on — waiting for someone to power on node-01 (manual power driver)`. */
export function currentStep(w: Workflow): string | undefined {
  const step = activeStep(w);
  if (!step) return undefined;
  const note = stepNote(step);
  return note ? `${step.name} — ${note}` : step.name;
}

/** The lines of `now` not in `before`: a log tail is capped, so the old tail's end is matched against the new one's start. */
function newLines(before: string[], now: string[]): string[] {
  for (let overlap = Math.min(before.length, now.length); overlap > 0; overlap--) {
    if (before.slice(-overlap).every((line, i) => line === now[i])) return now.slice(overlap);
  }
  return now;
}

/** A site step's result on its `succeeded` line (`driver=lab was=off action=on`), cut short: what the agent did. */
function resultNote(result: Step['result']): string {
  if (!result) return '';
  const text = Object.entries(result)
    .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

function duration(start: string | null, end: string | null): string {
  if (!start) return '';
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** What a running workflow waits on now, in one line for a ticker: `install running for 3 min 5 s — … · machine heard 20 s ago`. */
export function tickerLine(w: Workflow, now = Date.now()): string {
  const step = activeStep(w);
  if (!step || finished.includes(w.state)) return '';
  const what = step.waitingFor ?? step.logTail.at(-1) ?? (step.kind === 'site' ? 'waiting for the site agent to report' : 'running');
  const heard = step.machineHeardAt ? ` · machine heard ${elapsed(step.machineHeardAt, now)} ago` : '';
  return `… ${step.name} ${step.state} for ${elapsed(step.startedAt ?? w.updatedAt ?? w.createdAt, now)} — ${what}${heard}${w.cancelRequested ? ' · cancel requested' : ''}`;
}

/**
 * Where a followed workflow's lines go: nowhere with --json; on a terminal, a ticker line
 * below them says what the current step waits for and for how long, redrawn in place at
 * every poll and erased before each new line and at the end; to a pipe, the lines only.
 */
export function followOutput(
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  quiet: boolean,
): { write: (line: string) => void; ticker?: (line: string) => void } {
  if (quiet) return { write: () => undefined };
  if (!stdout.isTTY) return { write: (line) => void stdout.write(`${line}\n`) };
  let shown = false;
  const erase = () => {
    if (shown) stdout.write('\r\x1b[2K');
    shown = false;
  };
  return {
    write: (line) => {
      erase();
      stdout.write(`${line}\n`);
    },
    ticker: (line) => {
      erase();
      if (!line) return;
      const width = Math.max(20, (stdout.columns || 80) - 1);
      stdout.write(line.length > width ? `${line.slice(0, width - 1)}…` : line);
      shown = true;
    },
  };
}

/** Polls a workflow, printing each step as it changes, until it ends. Returns the final state. */
export async function followWorkflow(
  api: ApiClient,
  id: string,
  write: (line: string) => void,
  options: { intervalMs?: number; timeoutMs?: number; stamp?: () => string; ticker?: (line: string) => void } = {},
): Promise<Workflow> {
  const stamp = options.stamp ?? (() => new Date().toISOString().slice(11, 19));
  const seen = new Map<string, string>();
  const logs = new Map<string, string[]>();
  const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000);
  let cancelShown = false;
  for (;;) {
    const wf = await ok(api.typed.GET('/v1/workflows/{id}', { params: { path: { id } } }));
    if (wf.cancelRequested && !cancelShown && !finished.includes(wf.state)) {
      cancelShown = true;
      write(`${stamp()}  cancel requested; the workflow stops at the end of its current step`);
    }
    for (const step of wf.steps) {
      const key = `${step.state}|${step.waitingFor ?? ''}|${step.attempt}`;
      if (step.state === 'pending') continue;
      if (seen.get(step.name) !== key) {
        seen.set(step.name, key);
        const note = step.error ?? step.waitingFor ?? (step.state === 'succeeded' && step.kind === 'site' ? resultNote(step.result) : '');
        write(`${stamp()}  ${step.name.padEnd(20)} ${step.state.padEnd(10)} ${duration(step.startedAt, step.finishedAt).padStart(8)}  ${note}`);
      }
      // What a site step says while it runs (a manual power-on: who must do what), as it says it.
      if (step.kind !== 'site') continue;
      for (const line of newLines(logs.get(step.name) ?? [], step.logTail)) write(`${stamp()}  ${step.name.padEnd(20)} | ${line}`);
      logs.set(step.name, step.logTail);
    }
    if (finished.includes(wf.state)) {
      options.ticker?.('');
      write(`${wf.kind} ${wf.state}${wf.error ? `: ${wf.error}` : ''}`);
      return wf;
    }
    if (Date.now() > deadline) {
      options.ticker?.('');
      throw new Error(`gave up following workflow ${id} (still ${wf.state})`);
    }
    // Between polls the ticker counts on by itself (at most once a second), so a long interval still shows time passing.
    const pause = options.intervalMs ?? 1000;
    for (let waited = 0; waited < pause; waited += 1000) {
      options.ticker?.(tickerLine(wf));
      await new Promise((r) => setTimeout(r, Math.min(1000, pause - waited)));
    }
  }
}
