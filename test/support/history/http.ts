/**
 * One HTTP request to one replica, classified the Jepsen way: a 2xx is `ok`, a 4xx is `fail` (the
 * service refused it and, by contract, wrote nothing), a 5xx, a timeout or a connection lost after the
 * request was sent is `info` (the write may or may not have happened). A refused connection is `fail`:
 * nothing reached a server.
 */
import { createHash } from 'node:crypto';
import type { Attempt, Outcome } from './history';
import { now } from './history';

export interface Reply {
  attempt: Attempt;
  body: any;
  headers?: Headers;
}

export interface SendOptions {
  token: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
}

function networkCode(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'TIMEOUT';
  return e?.cause?.code ?? e?.code ?? e?.cause?.name ?? e?.name ?? 'NETWORK_ERROR';
}

/** JSON with every object's keys sorted, hashed: equal for equal bodies whatever order a store kept their keys in. */
export function digest(body: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(sorted(body)))
    .digest('hex');
}

export function outcomeOf(status: number, code?: string): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500) return 'fail';
  if (status === 0) return code === 'ECONNREFUSED' ? 'fail' : 'info';
  return 'info';
}

export async function send(baseUrl: string, replica: number, method: string, path: string, options: SendOptions): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}`, ...(options.headers ?? {}) };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const invokeMs = now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await res.text();
    const completeMs = now();
    let body: any = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    const code = res.status >= 400 && body && typeof body === 'object' && typeof body.code === 'string' ? (body.code as string) : undefined;
    const attempt: Attempt = { replica, invokeMs, completeMs, outcome: outcomeOf(res.status, code), status: res.status, code };
    if (res.status >= 200 && res.status < 300 && body && typeof body === 'object') {
      if (typeof body.id === 'string') attempt.id = body.id;
      if (typeof body.version === 'number') attempt.version = body.version;
      attempt.bodyDigest = digest(body);
      if (typeof body.messageCount === 'number') attempt.position = body.messageCount - 1;
      else if (Array.isArray(body.messages)) attempt.position = body.messages.length - 1;
      if (res.headers.get('idempotent-replayed') === 'true') attempt.replayed = true;
    } else if (res.status === 204) {
      // A delete answers with no body: its version is the ETag's.
      const tag = /^"(\d+)"$/.exec(res.headers.get('etag') ?? '');
      if (tag) attempt.version = Number(tag[1]);
    }
    return { attempt, body, headers: res.headers };
  } catch (err) {
    const code = networkCode(err);
    return { attempt: { replica, invokeMs, completeMs: now(), outcome: outcomeOf(0, code), status: 0, code }, body: undefined };
  }
}
