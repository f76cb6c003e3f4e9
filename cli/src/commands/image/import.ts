import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { settleRequest } from './wait-request.ts';

/**
 * `sprout image import SOURCE --site S`: the site's agent fetches the image itself — a URL
 * it can reach, or a file on its own host — so no image bytes pass through the API. The
 * agent keeps it only when its sha256 is the one given (computed here from a local file).
 */
export class ImageImportCommand extends SproutCommand {
  static paths = [['image', 'import']];
  static usage = Command.Usage({
    category: 'Images',
    description: "Put an image in a site's image store: the site's agent downloads the URL, or copies the file on its own host, and checks its sha256",
    details: [
      'SOURCE is an http(s) URL the agent can reach, or the path of a file on the agent host (run the command there, or give a path the agent host shares).',
      'For a file readable here the sha256 is computed here; for a URL, or a file only the agent host has, give --sha256.',
      'The command waits until the agent has the image (--timeout), or with --no-wait prints the pending request.',
    ].join(' '),
    examples: [
      ['A file on the agent host', 'sprout image import /srv/images/debian-12.raw --site fra1'],
      ['From a URL, under another name', 'sprout image import https://images.example/debian-12.raw --site fra1 --name debian-12 --sha256 <sum>'],
    ],
  });

  source = Option.String({ name: 'SOURCE' });
  site = Option.String('--site', { required: true, description: 'The site whose agent keeps the image' });
  name = Option.String('--name', { description: 'The name to deploy it by (default: the file name)' });
  sha256 = Option.String('--sha256', { description: 'The sum the agent must find (default: computed from the local file)' });
  wait = Option.Boolean('--wait', true, { description: 'Wait until the agent has it (--no-wait: print the pending request)' });
  timeout = Option.String('--timeout', '3600', { validator: t.isNumber(), description: 'Seconds to wait for the agent' });

  async run() {
    const url = /^https?:\/\//i.test(this.source) ? this.source : undefined;
    const path = url ? undefined : resolve(this.source);
    let sha256 = this.sha256;
    if (!sha256) {
      if (!path) throw new Error('--sha256: an image imported from a URL needs its sum, which the agent checks');
      if (!existsSync(path) || !statSync(path).isFile())
        throw new Error(`--sha256: ${path} is not a file here to compute the sum of; give the sum of the file on the agent host`);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      sha256 = hash.digest('hex');
    }
    const body = { ...(url ? { url } : { path }), sha256, ...(this.name ? { name: this.name } : {}) };
    const started = await ok(this.api().typed.POST('/v1/sites/{id}/images', { params: { path: { id: this.site } }, body }));
    return settleRequest(this, started, { wait: this.wait, timeoutSeconds: this.timeout as unknown as number });
  }
}
