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
  const step = w.steps.find((s) => s.state === 'running' || s.state === 'dispatched');
  if (!step || finished.includes(w.state)) return '';
  const since = step.startedAt ?? w.updatedAt ?? w.createdAt;
  const what = step.waitingFor ?? (step.kind === 'site' ? 'waiting for the site agent to report' : 'running');
  const lines = [`\n\nnow: ${step.name} ${step.state} for ${elapsed(since, now)} — ${what}${w.cancelRequested ? '; cancel requested' : ''}`];
  const tail = step.logTail.slice(-5);
  if (tail.length) lines.push(`last log lines of ${step.name}:`, ...tail.map((l) => `  | ${l}`));
  return lines.join('\n');
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
  const step = w.steps.find((s) => s.state === 'running' || s.state === 'dispatched');
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

/** Polls a workflow, printing each step as it changes, until it ends. Returns the final state. */
export async function followWorkflow(api: ApiClient, id: string, write: (line: string) => void, options: { intervalMs?: number; timeoutMs?: number; stamp?: () => string } = {}): Promise<Workflow> {
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
      write(`${wf.kind} ${wf.state}${wf.error ? `: ${wf.error}` : ''}`);
      return wf;
    }
    if (Date.now() > deadline) throw new Error(`gave up following workflow ${id} (still ${wf.state})`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
  }
}
