/**
 * One line per request (method, path, status, time taken) and a request id on every line logged while
 * it is served. The id is the caller's X-Request-Id when it is harmless (request-context.ts), else a new
 * one; it is echoed in the response header, kept as `req.id` for error bodies (`requestId`), and bound
 * as `requestId` to the request's lines. Only a few request fields are logged, so headers (tokens,
 * cookies) never are; the path's query string is scrubbed with every other line (redact.ts).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import { requestIdFrom } from '../request-context';
import type { LogContext } from './log-context';

/** Probes arrive every few seconds from every kubelet: their lines are for debugging only. */
const PROBE_PATH = /^\/health\//;

interface SerializedRequest {
  method: string;
  url: string;
  remoteAddress?: string;
  headers: Record<string, string | undefined>;
}

export function requestLogging(log: LogContext): RequestHandler {
  const http = pinoHttp<IncomingMessage, ServerResponse>({
    logger: log.root,
    genReqId: (req, res) => {
      const id = requestIdFrom(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    serializers: {
      req: (req: SerializedRequest) => ({
        method: req.method,
        url: req.url,
        remoteAddress: req.remoteAddress,
        userAgent: req.headers['user-agent'],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      return PROBE_PATH.test(req.url ?? '') ? 'debug' : 'info';
    },
    // A 5xx without an exception gets a made-up Error from pino-http, whose stack says nothing: the
    // exception filter has already logged the real one, under the same request id.
    customErrorObject: (_req, res, err, value: Record<string, unknown>) =>
      err.message === `failed with status code ${res.statusCode}` ? { ...value, err: undefined } : value,
  });
  return (req: Request, res: Response, next: NextFunction) => http(req, res, () => log.run({ requestId: req.id }, next));
}
