/**
 * A token bucket in documents: it refills at `rate` per second up to one second's worth, and a take of
 * `n` is granted whenever the bucket is not in debt, even if it overdraws it. A batch larger than the
 * bucket therefore goes through at once and the next one waits out the debt, so the average rate is exact
 * whatever the batch size. The shared (Redis) bucket runs the same arithmetic in a script; this one is the
 * fallback when Redis does not answer, and the reference its tests check.
 */
export class TokenBucket {
  private tokens: number | undefined;
  private at = 0;

  /** Milliseconds to wait before trying again; 0 when the `n` documents were granted. */
  take(n: number, rate: number, nowMs: number): number {
    if (rate <= 0) return 0;
    const burst = rate;
    const elapsed = Math.max(0, nowMs - this.at);
    this.tokens = Math.min(burst, (this.tokens ?? burst) + (elapsed * rate) / 1000);
    this.at = nowMs;
    if (this.tokens < 0) return Math.ceil((-this.tokens * 1000) / rate);
    this.tokens -= n;
    return 0;
  }
}

/** The same arithmetic in Redis, atomic across every process; the server's clock is the only clock. */
export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1]) or rate
local at = tonumber(s[2]) or now
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(rate, tokens + elapsed * rate / 1000)
local wait = 0
if tokens < 0 then
  wait = math.ceil(-tokens * 1000 / rate)
else
  tokens = tokens - n
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 600000)
return wait
`;
