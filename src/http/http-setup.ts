/**
 * Everything between the socket and the controllers: request ids and request logging, content types,
 * the body limit, strict UTF-8 JSON parsing, HTTP metrics, the error shape and OpenAPI (API_DOCS).
 * Body-parsing errors happen in Express middleware, before Nest's filters, so they get their own
 * handler with the same shape.
 */
import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import express, { NextFunction, Request, Response } from 'express';
import type { Server } from 'node:http';
import type { AuthConfig } from '../common/auth/auth.config';
import type { ServerConfig } from '../common/server.config';
import { codeForStatus, errorBody } from '../common/error-body';
import { AllExceptionsFilter } from '../common/http-exception.filter';
import { MetricsService } from '../common/metrics/metrics.service';
import { LogContext } from '../common/logging/log-context';
import { requestLogging } from '../common/logging/request-logging';
import { TokenAuthenticator } from '../common/auth/token-authenticator';
import { completeErrorResponses } from './openapi-errors';
import { ZodInputPipe } from './validation';

/** The sections HTTP set-up reads: the server's and the tokens (for the operator-only docs). */
export interface HttpSettings {
  app: ServerConfig;
  auth: AuthConfig;
}

type RequestWithId = Request & { id?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A request that carries a body must say it is JSON; anything else is 415 rather than a confusing 400. */
function requireJson(req: RequestWithId, res: Response, next: NextFunction): void {
  if (hasBody(req) && !req.is('application/json')) {
    res.status(415).json(errorBody(415, 'UNSUPPORTED_MEDIA_TYPE', 'Request bodies must be application/json', req.id ?? 'unknown'));
    return;
  }
  next();
}

function bodyErrors(err: unknown, req: RequestWithId, res: Response, next: NextFunction): void {
  const e = err as { status?: number; type?: string; message?: string };
  if (!e || typeof e.status !== 'number') return next(err);
  const requestId = req.id ?? 'unknown';
  const messages: Record<string, string> = {
    'entity.too.large': 'Request body exceeds the 1 MiB limit',
    'entity.parse.failed': 'Request body is not valid JSON',
    'encoding.invalid': 'Request body is not valid UTF-8',
    'charset.unsupported': 'Only UTF-8 request bodies are accepted',
    'encoding.unsupported': 'Unsupported content encoding',
  };
  const status = e.type === 'encoding.invalid' ? 400 : e.status;
  const code = e.type === 'entity.parse.failed' || e.type === 'encoding.invalid' ? 'MALFORMED_BODY' : codeForStatus(status);
  res.status(status).json(errorBody(status, code, messages[e.type ?? ''] ?? 'Malformed request', requestId));
}

function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction) => {
    const end = metrics.httpDuration.startTimer();
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const name = route ? `${req.baseUrl}${route}` : 'unmatched';
      end({ method: req.method, route: name, status: String(res.statusCode) });
      if (name.startsWith('/conversations'))
        metrics.applicationRequests.record(res.statusCode, Number(process.hrtime.bigint() - started) / 1e6);
    });
    next();
  };
}

/**
 * The OpenAPI routes are registered by SwaggerModule straight on Express, where Nest's guards do not
 * reach, so API_DOCS=operator puts this in front of them. A browser cannot send a bearer header when
 * it opens /docs, so the operator token is also taken as the password of a Basic login prompt.
 */
function operatorDocsOnly(config: HttpSettings) {
  const authenticator = new TokenAuthenticator(config);
  return (req: RequestWithId, res: Response, next: NextFunction) => {
    const principal = authenticator.authenticate(req.headers.authorization, { basic: true });
    const requestId = req.id ?? 'unknown';
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Basic realm="operator API docs", charset="UTF-8"');
      res.status(401).json(errorBody(401, 'UNAUTHORIZED', 'The API documentation needs an operator token', requestId));
      return;
    }
    if (principal.role !== 'operator') {
      res.status(403).json(errorBody(403, 'FORBIDDEN', 'The API documentation needs an operator token', requestId));
      return;
    }
    next();
  };
}

function setUpDocs(app: INestApplication, config: HttpSettings): void {
  if (config.app.docs === 'off') return;
  if (config.app.docs === 'operator') app.use(['/docs', '/docs-json'], operatorDocsOnly(config));
  SwaggerModule.setup('docs', app, () => openApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}

/**
 * The whole API as OpenAPI, generated from the same zod schemas that validate requests (nestjs-zod DTOs), with
 * the error responses every operation can give (openapi-errors.ts).
 */
export function openApiDocument(app: INestApplication) {
  const config = new DocumentBuilder()
    .setTitle('Legacy migration service')
    .setDescription('Dual-write conversation API and migration control plane. Errors always have the shape of the Error schema.')
    .setVersion('1')
    // An opaque token from APP_API_TOKENS or OPERATOR_API_TOKENS, not a JWT.
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'An application or operator token (APP_API_TOKENS, OPERATOR_API_TOKENS)',
    })
    .build();
  // DocumentBuilder marks every bearer scheme as a JWT; these tokens are opaque.
  const bearer = config.components?.securitySchemes?.bearer as { bearerFormat?: string } | undefined;
  if (bearer) delete bearer.bearerFormat;
  return completeErrorResponses(cleanupOpenApiDoc(SwaggerModule.createDocument(app, config)));
}

interface RouteLayer {
  route?: { path?: unknown; methods: Record<string, boolean>; _methods(): string[] };
  match(path: string): unknown;
}

/** A route for every method (a catch-all such as the not-found handler) says nothing about a path. */
const catchAll = (route: NonNullable<RouteLayer['route']>) => route.methods._all || route._methods().length > 10;

/** The methods some route answers on this request's path (HEAD wherever GET is), from Express's own router. */
function allowedMethods(req: Request): string[] {
  const stack = (req.app as unknown as { router?: { stack?: RouteLayer[] } }).router?.stack ?? [];
  const methods = new Set<string>();
  for (const layer of stack) {
    if (layer.route && !catchAll(layer.route) && layer.match(req.path)) for (const m of layer.route._methods()) methods.add(m);
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/**
 * Bounds what one client can make the server hold: headers (MAX_HEADER_BYTES, 431 beyond), the time to
 * send them and the whole request (a slow client cannot keep a socket forever), and bodies (1 MiB, 413). An idle
 * kept-alive connection stays open HTTP_KEEP_ALIVE_TIMEOUT_MS (65 s), longer than a load balancer's idle timeout.
 */
function boundRequests(app: INestApplication, config: HttpSettings): void {
  // Node reads maxHeaderSize from the server for each new connection; the typings only know it as an option.
  const server = app.getHttpServer() as Server & { maxHeaderSize?: number };
  server.maxHeaderSize = config.app.maxHeaderBytes;
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = config.app.keepAliveTimeoutMs;
}

export function configureHttp(app: INestApplication, config: HttpSettings): void {
  boundRequests(app, config);
  const expressApp = app as NestExpressApplication;
  expressApp.disable('x-powered-by');
  expressApp.set('query parser', 'simple');
  // First, so that every request, even one refused by the body checks below, has its id and its line.
  app.use(requestLogging(app.get(LogContext)));
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(requireJson);
  app.use(
    express.json({
      limit: config.app.bodyLimitBytes,
      strict: true,
      type: 'application/json',
      // JSON.parse makes "__proto__" an own key; refusing it outright keeps every later copy safe.
      reviver: (key: string, value: unknown) => {
        if (key === '__proto__') throw new SyntaxError('"__proto__" is not an accepted key');
        return value;
      },
      verify: (_req, _res, buf) => {
        try {
          utf8.decode(buf);
        } catch {
          throw Object.assign(new Error('invalid UTF-8'), { status: 400, type: 'encoding.invalid' });
        }
      },
    }),
  );
  app.use(bodyErrors);
  app.useGlobalFilters(new AllExceptionsFilter(allowedMethods));
  app.useGlobalPipes(new ZodInputPipe());
  app.enableShutdownHooks();
  setUpDocs(app, config);
}
