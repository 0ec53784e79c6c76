import type { FieldError } from './errors';

/** The one error shape of the API (SPEC section 2). */
export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  errors?: FieldError[] | Record<string, unknown>[];
  requestId: string;
}

const CODES_BY_STATUS: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'VERSION_CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

export function codeForStatus(status: number): string {
  return CODES_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
}

export function errorBody(statusCode: number, code: string, message: string, requestId: string, errors?: ErrorBody['errors']): ErrorBody {
  const body: ErrorBody = { statusCode, code, message, requestId };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}
