/**
 * `sprout completion bash|zsh`: a completion script generated from the registered
 * commands (plugin commands included), so it never lists a command that is gone.
 * It completes command words and flags; other words fall back to file names.
 */
import { Command, Option } from 'clipanion';
import * as t from 'typanion';

export interface CompletionTree {
  /** "sprout machine" → ["list", "show", …] */
  children: Map<string, Set<string>>;
  /** "sprout machine list" → ["--site", …] */
  flags: Map<string, Set<string>>;
}

/** The command words and flags of every documented command, keyed by the words before them. */
export function completionTree(definitions: { path: string; usage: string; options: { definition: string }[] }[]): CompletionTree {
  const children = new Map<string, Set<string>>();
  const flags = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, key: string, value: string) => (map.get(key) ?? map.set(key, new Set()).get(key)!).add(value);
  for (const d of definitions) {
    const words = d.path.split(' ').filter((w) => /^[a-z][\w-]*$/.test(w));
    for (let i = 1; i < words.length; i++) add(children, words.slice(0, i).join(' '), words[i]);
    const key = words.join(' ');
    // described options are listed apart; undescribed ones stay on the usage line
    const inline = (d.usage.match(/[[<](-[^\]>]*)[\]>]/g) ?? []).map((m) => m.slice(1, -1));
    for (const definition of [...d.options.map((o) => o.definition), ...inline, '--help']) {
      for (const name of definition.split(' ')[0].split(',')) if (name.startsWith('--')) add(flags, key, name);
    }
  }
  return { children, flags };
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const entries = (map: Map<string, Set<string>>) =>
  [...map]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, values]) => `  [${quote(key)}]=${quote([...values].sort().join(' '))}`)
    .join('\n');

export function bashScript(tree: CompletionTree): string {
  return `# sprout completion for bash: source <(sprout completion bash)
declare -gA _sprout_children=(
${entries(tree.children)}
)
declare -gA _sprout_flags=(
${entries(tree.flags)}
)
_sprout() {
  local cur=\${COMP_WORDS[COMP_CWORD]} key=sprout w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ " \${_sprout_children[$key]} " == *" $w "* ]]; then key="$key $w"; fi
  done
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "\${_sprout_flags[$key]}" -- "$cur"))
  elif [[ -n \${_sprout_children[$key]} ]]; then
    COMPREPLY=($(compgen -W "\${_sprout_children[$key]}" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F _sprout sprout
`;
}

export function zshScript(tree: CompletionTree): string {
  return `#compdef sprout
# sprout completion for zsh: source <(sprout completion zsh), or save it as _sprout in $fpath
typeset -gA _sprout_children _sprout_flags
_sprout_children=(
${entries(tree.children).replace(/^ {2}\[(.*?)\]=/gm, '  $1 ')}
)
_sprout_flags=(
${entries(tree.flags).replace(/^ {2}\[(.*?)\]=/gm, '  $1 ')}
)
_sprout() {
  local key=sprout w i
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if [[ " \${_sprout_children[$key]} " == *" $w "* ]]; then key="$key $w"; fi
  done
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- \${=_sprout_flags[$key]}
  elif [[ -n \${_sprout_children[$key]} ]]; then
    compadd -- \${=_sprout_children[$key]}
  else
    _files
  fi
}
compdef _sprout sprout
`;
}

export class CompletionCommand extends Command {
  static paths = [['completion']];
  static usage = Command.Usage({
    category: 'Shell',
    description: 'Print a shell completion script for sprout (commands, subcommands and flags)',
    examples: [
      ['Bash, this shell', 'source <(sprout completion bash)'],
      ['Bash, every shell', 'sprout completion bash > ~/.local/share/bash-completion/completions/sprout'],
      ['Zsh', 'source <(sprout completion zsh)'],
    ],
  });

  shell = Option.String({ name: 'bash|zsh', validator: t.isEnum(['bash', 'zsh']) });

  async execute(): Promise<number> {
    const tree = completionTree(this.cli.definitions());
    this.context.stdout.write(this.shell === 'bash' ? bashScript(tree) : zshScript(tree));
    return 0;
  }
}
