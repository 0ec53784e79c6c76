import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { codeForStatus, errorBody } from './error-body';
import { DEPENDENCY_LABEL, unavailableDependency } from './dependency-errors';
import { DomainError, StoreRefusedError } from './errors';
import { refusingStore } from './store-refusals';

/** The methods the API answers on a request's path (empty when the path is unknown). */
export type AllowedMethods = (req: Request) => string[];

/** Seconds a client is asked to wait before retrying a request that met an unreachable store. */
const RETRY_AFTER_S = 5;

/**
 * Every error leaves as the SPEC shape with the request id. Domain errors keep their code; Nest's
 * HTTP exceptions get the code of their status; a store or Redis that cannot be reached is a 503
 * (`STORE_UNAVAILABLE`, with Retry-After) naming which one; anything else is a 500 whose detail goes
 * only to the log.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  constructor(private readonly allowedMethods: AllowedMethods = () => []) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request & { id?: string }>();
    const requestId = req.id ?? 'unknown';

    if (exception instanceof DomainError) {
      res
        .status(exception.statusCode)
        .json(errorBody(exception.statusCode, exception.code, exception.message, requestId, exception.errors));
      return;
    }
    // No route for this method: a known path with other methods is 405 with Allow (RFC 9110), not 404.
    if (exception instanceof NotFoundException && exception.message.startsWith('Cannot ')) {
      const allow = this.allowedMethods(req);
      if (allow.length > 0) {
        res.setHeader('Allow', allow.join(', '));
        res
          .status(405)
          .json(errorBody(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; allowed: ${allow.join(', ')}`, requestId));
        return;
      }
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message = typeof response === 'string' ? response : String((response as { message?: unknown }).message ?? exception.message);
      res.status(status).json(errorBody(status, codeForStatus(status), message, requestId));
      return;
    }
    const status = httpStatusOf(exception);
    if (status !== undefined && status < 500) {
      res.status(status).json(errorBody(status, codeForStatus(status), (exception as Error).message, requestId));
      return;
    }
    const dependency = unavailableDependency(exception);
    if (dependency) {
      // An outage fails every request alike: name and message are enough, the stacks would flood the log.
      const { name, message } = exception as Error;
      // The request's id is on the line already (common/logging/request-logging.ts).
      this.logger.warn({ msg: 'dependency unavailable', dependency, err: { name, message } });
      res.setHeader('Retry-After', String(RETRY_AFTER_S));
      const code = dependency === 'redis' ? 'SERVICE_UNAVAILABLE' : 'STORE_UNAVAILABLE';
      res.status(503).json(errorBody(503, code, `${DEPENDENCY_LABEL[dependency]} cannot be reached right now; retry later`, requestId));
      return;
    }
    // A store refused what it was sent: the input's fault (a rule the schemas do not know yet), never a 500.
    const refusing = refusingStore(exception);
    if (refusing) {
      this.logger.warn({ msg: 'store refused a document', store: refusing, err: describe(exception) });
      const refused = new StoreRefusedError(
        refusing,
        'request',
        'refused a value of this request',
        `A store refused a value of this request (${refusing === 'new' ? 'PostgreSQL' : 'MongoDB'})`,
      );
      res.status(422).json(errorBody(422, refused.code, refused.message, requestId, refused.errors));
      return;
    }
    this.logger.error({ msg: 'unhandled error', err: describe(exception) });
    res.status(500).json(errorBody(500, 'INTERNAL_ERROR', 'Internal server error', requestId));
  }
}

function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

function describe(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { value: String(err) };
}
