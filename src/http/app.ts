import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import { LogError } from '../../storage/partition-log/log-error.ts';
import { RunnelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { registerConsumerRoutes } from './consumer-routes.ts';
import { registerDataRoutes } from './data-routes.ts';
import type { HttpDeps } from './http-deps.ts';
import { meterRoutes, registerMetricsRoutes } from './metrics-routes.ts';
import { registerOpenApi } from './openapi.ts';
import { registerTestHookRoutes } from './test-hook-routes.ts';
import { testHooksEnabled } from '../test-hooks.ts';
import { SCHEMA_ANNOTATIONS, validationError } from './validation-error.ts';

export interface HttpAppDeps {
  readonly services: HttpDeps;
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
 * too large) become 4xx with the same shape; a route schema's refusal becomes the 422 naming
 * the field that a handler would throw; anything else is a 500 and is logged. The route
 * schemas (schemas/) validate input and make the OpenAPI document served at /docs.
 */
export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const logger: FastifyBaseLogger = deps.logger;
  // While closing, keep serving requests on open connections (they are forwarded to the new
  // leaders after a controlled shutdown) rather than answering 503; RunnelNode.close() cuts
  // the connections that are still open after a short grace. No per-request log lines:
  // fastify 5 takes that switch from a LogController (the top-level option is FSTDEP023).
  const app = Fastify({ loggerInstance: logger, return503OnClosing: false, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 16 * 1024 * 1024, ajv: { customOptions: AJV_OPTIONS } });
  // Response schemas are documentation (OpenAPI) only: answers are sent with JSON.stringify as
  // before. fast-json-stringify would drop undeclared fields and coerce mistyped ones (null
  // into 0) silently, turning any gap between a schema and a handler into wrong answers.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerOpenApi(app);
  // REST Proxy clients send application/vnd.kafka.*+json: parse those as JSON too.
  app.addContentTypeParser(/^application\/vnd\.kafka\.[a-z0-9.]+\+json/, { parseAs: 'string' }, (req, body, done) => {
    void app.getDefaultJsonParser('error', 'error')(req, body as string, done);
  });
  app.setErrorHandler((raw: FastifyError | RunnelError | LogError, req, reply) => {
    // A stored compressed batch that fails to decompress reaches a consume route as a LogError.
    const thrown = raw instanceof LogError ? new RunnelError(raw.code, raw.message) : raw;
    const err = thrown instanceof RunnelError || thrown.validation === undefined ? thrown : validationError(thrown.validation, thrown.validationContext);
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
    const err = new RunnelError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
    return reply.status(err.status).send({ error_code: err.errorCode, message: err.message } satisfies ErrorBody);
  });
  // @fastify/swagger documents the routes declared after it has loaded (an onRoute hook), so
  // the routes are declared in a plugin registered after it. Error and not-found handlers,
  // the content-type parser and the compilers above are inherited by the plugin.
  void app.register((scope, _opts, done) => {
    declareRoutes(scope, deps);
    done();
  });
  return app;
}

/**
 * Fastify's ajv defaults, changed where they would alter what the handlers accept: no type
 * coercion (query strings stay strings: `acks=-1`, `timeout_ms=1e3` are the handlers' to
 * judge; a JSON "3" is not 3), no silent removal of unknown fields (they are refused, named),
 * no defaults written into requests (`timeout_ms` filled in would clash with `timeout`).
 * verbose: errors carry their subschema and value, for the messages of validation-error.ts.
 * allowUnionTypes: fields the handlers take as a string, number or boolean say so.
 */
const AJV_OPTIONS = {
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  verbose: true,
  allowUnionTypes: true,
  keywords: [...SCHEMA_ANNOTATIONS],
};

function declareRoutes(app: FastifyInstance, deps: HttpAppDeps): void {
  const s = deps.services;
  meterRoutes(app, s);
  registerAdminRoutes(app, s);
  registerDataRoutes(app, s);
  registerConsumerRoutes(app, s);
  registerMetricsRoutes(app, s);
  if (testHooksEnabled()) {
    deps.logger.warn('test hooks enabled: fault-injection routes under /_test are served');
    registerTestHookRoutes(app, s);
  }
}
