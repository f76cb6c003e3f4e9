/**
 * One log line per request, written when it is answered, with what an operator looks
 * for: method, path, client address, status, time taken and the request id. (Fastify's
 * default writes a second line as each request arrives; at the API's request rates
 * that line cost more than some routes' work.) A site agent's link traffic (heartbeats,
 * work and desired-state polls, reports) answered without error is logged at debug: at
 * info it would bury everything else.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (request.routeOptions.config?.auth?.role === 'agent' && reply.statusCode < 400)
      reply.log.debug({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
