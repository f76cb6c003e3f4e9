/**
 * The `sprout …` command lines of the docs' fenced blocks, as an operator would copy them:
 * what the docs tests (test/docs/*) parse and run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../..', import.meta.url));
/** Commands of the example plugins docs/plugins.md builds, which are not installed here. */
const pluginExamples = ['burnin'];

export interface DocCommand {
  file: string;
  line: number;
  text: string;
  args: string[];
}

/** Splits a shell line into words: quotes group, a `#` starting a word ends the line. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | null = null;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '<' && line.indexOf('>', i) > i) {
      // A placeholder (`<dhcp port>`) is one value, spaces and all.
      const end = line.indexOf('>', i);
      word += line.slice(i, end + 1);
      i = end;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (ch === '#' && !inWord) {
      break;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Every `sprout …` line of the fenced blocks of a markdown file (continuations joined). */
export function docCommands(file: string): DocCommand[] {
  const lines = readFileSync(join(repo, file), 'utf8').split('\n');
  const commands: DocCommand[] = [];
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*```/.test(lines[i]!)) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) continue;
    let text = lines[i]!.trim().replace(/^\$\s+/, '');
    const start = i;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    // A command a line runs: `sprout …`, `npx sprout …`, or after `sudo`/an env assignment; not a pipe's later part.
    const words = shellWords(text.split(/\s+\|\s+|\s+&&\s+|;\s+/)[0]!);
    while (words.length && (/^[A-Z_][A-Z0-9_]*=/.test(words[0]!) || words[0] === 'sudo' || words[0] === 'npx' || words[0] === 'node_modules/.bin/sprout')) {
      if (words[0] === 'node_modules/.bin/sprout') words[0] = 'sprout';
      else words.shift();
    }
    if (words[0] !== 'sprout' || words.length < 2) continue;
    if (pluginExamples.includes(words[1]!)) continue;
    const args = words
      .slice(1)
      .filter((w) => w !== '…' && w !== '&')
      // `[--flag value]` and `[--flag]`: optional notation, read as written without brackets; `<pkg>[@version]` likewise.
      .map((w) =>
        w
          .replace(/^\[(?=-)/, '')
          .replace(/\]$/, '')
          .replace(/\[@[a-z]+\]$/, ''),
      )
      .map((w) => (/^[a-z-]+(\|[a-z-]+)+$/.test(w) ? w.split('|')[0]! : w))
      // A value that is only a placeholder may stand for a number (`--tftp-port <tftp port>`).
      .map((w) => (/^<[^>]+>$/.test(w) ? '1' : w));
    commands.push({ file, line: start + 1, text, args });
  }
  return commands;
}
