/**
 * A small reader that collects every problem in the environment instead of stopping at the first,
 * so that a bad deployment is fixed in one round trip. Each config section reads its variables
 * through one of these; `ConfigError` then names every bad variable at once.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export class EnvReader {
  readonly problems: string[] = [];
  /** Every variable asked for, set or not: what a deployment's configuration may usefully set. */
  readonly names = new Set<string>();

  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    this.names.add(name);
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  private fail<T>(name: string, message: string, fallback: T): T {
    this.problems.push(`${name}: ${message}`);
    return fallback;
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name);
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    return this.fail(name, 'is required', '');
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) return this.fail(name, `must be an integer, got "${value}"`, fallback);
    const n = Number(value);
    if (n < min || n > max) return this.fail(name, `must be between ${min} and ${max}, got ${n}`, fallback);
    return n;
  }

  number(name: string, fallback: number, min = -Infinity, max = Infinity): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n)) return this.fail(name, `must be a number, got "${value}"`, fallback);
    if (n < min || n > max) return this.fail(name, `must be between ${min} and ${max}, got ${n}`, fallback);
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    return this.fail(name, `must be true or false, got "${value}"`, fallback);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(name, `must be one of ${allowed.join(', ')}, got "${value}"`, fallback);
  }

  url(name: string, protocols: readonly string[], fallback?: string): string {
    const value = this.string(name, fallback);
    if (value === '') return value;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return this.fail(name, 'is not a valid URL', value);
    }
    if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
      return this.fail(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol.replace(/:$/, '')}`, value);
    }
    return value;
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  problem(name: string, message: string): void {
    this.problems.push(`${name}: ${message}`);
  }
}
