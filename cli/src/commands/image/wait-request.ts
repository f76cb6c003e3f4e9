/** Waits for an image request to settle at the site's agent, printing how it ended; exit 1 when it failed or did not end in time. */
import type { SproutCommand } from '@sprout/kernel/cli';
import { requestLine, type ImageRequest } from '../../render/image.ts';

export async function settleRequest(command: SproutCommand, started: ImageRequest, options: { wait: boolean; timeoutSeconds: number }): Promise<number> {
  let request = started;
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const path = `v1/sites/${encodeURIComponent(started.site)}/image-requests/${started.id}`;
  while (options.wait && request.state === 'pending' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    request = await command.api().get<ImageRequest>(path);
  }
  command.print(request, () => requestLine(request));
  if (request.state === 'failed') return 1;
  if (request.state === 'pending' && options.wait) {
    command.context.stderr.write(`error: the agent of site ${request.site} did not finish the ${request.action} within --timeout ${options.timeoutSeconds} s; it goes on: see \`sprout image list --site ${request.site}\`\n`);
    return 1;
  }
  return 0;
}
