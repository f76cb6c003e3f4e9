/** Runs wrk (50 connections) with a Lua script and reads its figures: requests/s, p50/p99 latency, errors. */
import { writeFileSync } from 'node:fs';
import { runTool } from './bench-kit.ts';

export interface WrkFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

function ms(text: string | undefined): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text ?? '');
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

export function parseWrk(output: string): WrkFigures {
  const errorsNon2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN),
    p50Ms: ms(/\s50%\s+(\S+)/.exec(output)?.[1]),
    p99Ms: ms(/\s99%\s+(\S+)/.exec(output)?.[1]),
    requests: Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN),
    errors: errorsNon2xx + (socket ? socket.slice(1).reduce((s, v) => s + Number(v), 0) : 0),
  };
}

export async function wrk(
  url: string,
  script: string,
  scriptFile: string,
  seconds: number,
  headers: Record<string, string> = {},
  connections = 50,
): Promise<WrkFigures> {
  writeFileSync(scriptFile, script);
  const args = [
    '-t',
    String(Math.min(2, connections)),
    '-c',
    String(connections),
    '-d',
    `${seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-s',
    scriptFile,
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    url,
  ];
  const run = await runTool('wrk', args, (seconds + 30) * 1000);
  const figures = parseWrk(run.output);
  if (Number.isNaN(figures.requestsPerSecond)) throw new Error(`wrk printed no figures:\n${run.output.slice(-1500)}`);
  return figures;
}

/** A Lua script requesting `GET <prefix><id>` for random ids of the list. */
export function randomGetScript(prefix: string, ids: string[]): string {
  return `ids = {${ids.map((id) => `"${id}"`).join(',')}}\nrequest = function()\n  return wrk.format("GET", "${prefix}" .. ids[math.random(#ids)])\nend\n`;
}
