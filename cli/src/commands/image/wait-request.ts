/** Waits for an image request to settle at the site's agent, printing how it ended; exit 1 when it failed or did not end in time. */
import { ok, type SproutCommand } from '@sprout/kernel/cli';
import { requestLine, type ImageRequest } from '../../render/image.ts';

export async function settleRequest(command: SproutCommand, started: ImageRequest, options: { wait: boolean; timeoutSeconds: number }): Promise<number> {
  let request = started;
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const params = { path: { id: started.site, request: started.id } };
  while (options.wait && request.state === 'pending' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    request = await ok(command.api().typed.GET('/v1/sites/{id}/image-requests/{request}', { params }));
  }
  command.print(request, () => requestLine(request));
  if (request.state === 'failed') return 1;
  if (request.state === 'pending' && options.wait) {
    command.context.stderr.write(
      `error: the agent of site ${request.site} did not finish the ${request.action} within --timeout ${options.timeoutSeconds} s; it goes on: see \`sprout image list --site ${request.site}\`\n`,
    );
    return 1;
  }
  return 0;
}
