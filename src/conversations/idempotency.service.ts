/**
 * Idempotency-Key for POST endpoints, kept 24 h in Redis. The first request with a key claims it
 * (SET NX) with a fingerprint of who sent what; a repeat with the same fingerprint gets the first
 * response back without writing again, one with another body is 422, and one that arrives while the
 * first is still running is 409. A failed first attempt releases the key so the client can retry.
 * When Redis is down a keyed request is refused (503) rather than risk writing twice.
 */
import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { DomainError, ServiceUnavailableError } from '../common/errors';
import { REDIS } from '../stores/stores.module';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** A claim whose request died (process killed, Redis lost mid-request) frees itself after this. */
const PENDING_TTL_SECONDS = 120;
const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

export interface StoredResponse {
  status: number;
  body: unknown;
  etag?: string;
}

type Entry = { state: 'pending'; fingerprint: string } | { state: 'done'; fingerprint: string; response: StoredResponse };

export type Claim = { kind: 'claimed'; complete(response: StoredResponse): Promise<void>; release(): Promise<void> } | { kind: 'replay'; response: StoredResponse };

@Injectable()
export class IdempotencyService {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  static validKey(key: string): boolean {
    return KEY_PATTERN.test(key);
  }

  async claim(key: string, scope: string, body: unknown): Promise<Claim> {
    const redisKey = `lms:idem:${createHash('sha256').update(`${scope}\n${key}`).digest('hex')}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(body ?? null)).digest('hex');
    try {
      const claimed = await this.redis.set(redisKey, JSON.stringify({ state: 'pending', fingerprint } satisfies Entry), 'EX', PENDING_TTL_SECONDS, 'NX');
      if (claimed === 'OK') {
        return {
          kind: 'claimed',
          complete: async (response) => {
            await this.redis.set(redisKey, JSON.stringify({ state: 'done', fingerprint, response } satisfies Entry), 'EX', IDEMPOTENCY_TTL_SECONDS);
          },
          release: async () => {
            await this.redis.del(redisKey);
          },
        };
      }
      const existing = await this.redis.get(redisKey);
      if (existing === null) return this.claim(key, scope, body);
      const entry = JSON.parse(existing) as Entry;
      if (entry.fingerprint !== fingerprint) {
        throw new DomainError('IDEMPOTENCY_KEY_REUSED', 422, 'This Idempotency-Key was used with a different request body');
      }
      if (entry.state === 'pending') throw new DomainError('IDEMPOTENT_REQUEST_IN_PROGRESS', 409, 'A request with this Idempotency-Key is still being processed');
      return { kind: 'replay', response: entry.response };
    } catch (err) {
      if (err instanceof DomainError) throw err;
      throw new ServiceUnavailableError('Idempotency keys cannot be checked right now (Redis unavailable); retry later');
    }
  }
}
