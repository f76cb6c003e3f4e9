/**
 * The SSH keys of a deploy request (`sshKeys`, `sprout machine deploy --ssh-key`): OpenSSH
 * public key lines (`TYPE BASE64 [comment]`) that land in the default user's
 * authorized_keys through cloud-init. A line is checked the way sshd would read it — a
 * known type, and a base64 body whose first field names that same type — so a private
 * key, a fingerprint or a truncated paste is refused at request time, naming the entry.
 */
import { SproutError } from '../../errors/index.ts';

export const sshKeyTypes = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

/** What is wrong with one key line, or undefined when sshd would take it. */
export function sshKeyProblem(line: string): string | undefined {
  const [type, body] = line.trim().split(/[ \t]+/);
  if (/[\r\n]/.test(line.trim())) return 'one key per entry (this one holds a line break)';
  if (!sshKeyTypes.includes(type))
    return `not an OpenSSH public key line: it starts with ${JSON.stringify(type.slice(0, 40))}, not a key type (${sshKeyTypes.join(', ')})`;
  if (!body || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return `${type} key without a base64 body`;
  const blob = Buffer.from(body, 'base64');
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const named = length > 0 && length <= blob.length - 4 ? blob.toString('latin1', 4, 4 + length) : undefined;
  if (named !== type) return `the base64 body of this ${type} key is not a ${type} key${named ? ` (it holds ${JSON.stringify(named.slice(0, 40))})` : ''}`;
  return undefined;
}

/** The keys, trimmed; a 400 naming `body/sshKeys/<i>` for the first bad one. */
export function checkSshKeys(keys: string[]): string[] {
  const problems = keys.map((key, i) => ({ i, problem: sshKeyProblem(key) })).filter((p) => p.problem);
  if (problems.length > 0) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `sshKeys/${problems[0].i}: ${problems[0].problem}`, {
      details: problems.map((p) => ({ field: `body/sshKeys/${p.i}`, message: p.problem! })),
    });
  }
  return keys.map((key) => key.trim());
}
