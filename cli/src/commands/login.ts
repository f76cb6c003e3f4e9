import { resolve } from 'node:path';
import { SproutCommand, Command, Option, ApiClient, writeProfile, readSecretOption, FlagInputError, ok } from '@sprout/kernel/cli';

export class LoginCommand extends SproutCommand {
  static paths = [['login']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Check a token against a server and save both as the CLI profile',
    details:
      'The profile (mode 0600) keeps the URL, the token and the --ca file (for an https:// server whose certificate a private CA signed); it is used when SPROUT_URL and SPROUT_TOKEN are not set. ' +
      'The token comes from --token-file (a file, or - for standard input), else --token, else $SPROUT_TOKEN. ' +
      'A value given with --token stays visible to every user of the machine in `ps` while the command runs: prefer the file, standard input or the variable.',
    examples: [
      ['Log in with the token in a file', 'sprout login --url http://127.0.0.1:7480 --token-file .sprout/admin-token'],
      [
        'Log in to a server whose certificate a private CA signed',
        'sprout login --url https://cp.example:7480 --token-file admin-token --ca /etc/sprout/ca.pem',
      ],
      ['Log in with the token on standard input', 'pass show sprout/admin | sprout login --url http://cp.example:7480 --token-file -'],
    ],
  });

  url = Option.String('--url', { description: 'URL of the Sprout API (default: $SPROUT_URL)' });
  token = Option.String('--token', { description: 'The token itself (visible in `ps`: prefer --token-file); - reads it from standard input' });
  tokenFile = Option.String('--token-file', { description: 'File holding the token; - reads standard input' });

  async run() {
    const url = this.url ?? process.env.SPROUT_URL;
    if (!url) throw new FlagInputError('--url', 'is required (or set SPROUT_URL): the URL of the Sprout API');
    const token = readSecretOption({
      flag: '--token',
      value: this.token,
      fileFlag: '--token-file',
      file: this.tokenFile,
      envVar: 'SPROUT_TOKEN',
      warn: (line) => this.context.stderr.write(`${line}\n`),
    });
    if (!token) throw new FlagInputError('--token-file', 'is required (or --token -, or SPROUT_TOKEN): the token to log in with');
    // The CA is kept as an absolute path: later commands run from other folders.
    const caFlag = this.ca ?? (process.env.SPROUT_CA || undefined);
    const ca = caFlag ? resolve(caFlag) : undefined;
    const who = await ok(new ApiClient({ url, token, source: '--url and the token given', ...(ca ? { ca } : {}) }).typed.GET('/v1/whoami'));
    const path = writeProfile({ url, token, ...(ca ? { ca } : {}) });
    this.print({ ...who, url, profile: path }, () => `logged in to ${url} as ${who.actor} (${who.role}); profile saved in ${path}`);
  }
}
