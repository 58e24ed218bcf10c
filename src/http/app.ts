import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RunnelNode } from '../node/runnel-node.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { registerConsumerRoutes } from './consumer-routes.ts';
import { registerDataRoutes } from './data-routes.ts';
import { registerTestHookRoutes, TEST_HOOKS_ENV } from './test-hook-routes.ts';

export interface HttpAppDeps {
  readonly node: RunnelNode;
  readonly logger: Logger;
}

/** Error body of every failed request (REST Proxy style). */
export interface ErrorBody {
  readonly error_code: number;
  readonly message: string;
}

/**
 * The HTTP API (API.md). One error handler maps every failure to `{error_code, message}`:
 * RunnelErrors carry their status and code; fastify's own (bad JSON, wrong content type,
 * too large) become 4xx with the same shape; anything else is a 500 and is logged.
 */
export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const logger: FastifyBaseLogger = deps.logger;
  // While closing, keep serving requests on open connections (they are forwarded to the new
  // leaders after a controlled shutdown) rather than answering 503; RunnelNode.close() cuts
  // the connections that are still open after a short grace.
  const app = Fastify({ loggerInstance: logger, return503OnClosing: false, disableRequestLogging: true, bodyLimit: 16 * 1024 * 1024 });
  // REST Proxy clients send application/vnd.kafka.*+json: parse those as JSON too.
  app.addContentTypeParser(/^application\/vnd\.kafka\.[a-z0-9.]+\+json/, { parseAs: 'string' }, (req, body, done) => {
    void app.getDefaultJsonParser('error', 'error')(req, body as string, done);
  });
  app.setErrorHandler((err: FastifyError | RunnelError, req, reply) => {
    if (err instanceof RunnelError) {
      if (err.status >= 500) req.log.warn({ err, url: req.url }, 'request failed');
      if (err.status === 429) void reply.header('retry-after', '1');
      return reply.status(err.status).send({ error_code: err.errorCode, message: err.message } satisfies ErrorBody);
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err, url: req.url }, 'unexpected error');
    const message = status === 500 ? 'internal error' : err.message.startsWith('body') ? err.message : `body: ${err.message}`;
    return reply.status(status).send({ error_code: status * 100 + 1, message } satisfies ErrorBody);
  });
  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send({ error_code: 40400, message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } satisfies ErrorBody);
  });
  registerAdminRoutes(app, deps.node);
  registerDataRoutes(app, deps.node);
  registerConsumerRoutes(app, deps.node);
  if (process.env[TEST_HOOKS_ENV] === '1') {
    deps.logger.warn('test hooks enabled: fault-injection routes under /_test are served');
    registerTestHookRoutes(app, deps.node);
  }
  return app;
}
