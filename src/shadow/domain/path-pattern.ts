/**
 * JSON-path patterns over the one path spelling every report uses (`messages[2].content`, `metadata.a.b`,
 * `metadata["a.b"]`, `messages.length`). A pattern is such a path in which `[*]` stands for any array index
 * and `*` for any one key or index. A pattern matches a path when it matches the path's first segments, so
 * `metadata.lastSeen` also covers `metadata.lastSeen.tz`, and `messages[*].createdAt` does not cover
 * `messages.length` (a different number of messages is never noise).
 */
import { indexPath, keyPath } from '../../model/json-path';

export type PathSegment = { kind: 'key'; key: string } | { kind: 'index'; index: number };
export type PatternSegment = PathSegment | { kind: 'anyIndex' } | { kind: 'any' };

export class PathSyntaxError extends Error {
  readonly code = 'PATH_SYNTAX';
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*/;

function tokenize(text: string, wildcards: boolean): PatternSegment[] {
  const out: PatternSegment[] = [];
  const fail = (why: string): never => {
    throw new PathSyntaxError(`"${text}": ${why}`);
  };
  let i = 0;
  while (i < text.length) {
    if (text[i] === '[') {
      if (text[i + 1] === '"') {
        let j = i + 2;
        while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        if (text[j] !== '"' || text[j + 1] !== ']') fail(`unterminated quoted key at ${i}`);
        out.push({ kind: 'key', key: JSON.parse(text.slice(i + 1, j + 1)) as string });
        i = j + 2;
        continue;
      }
      const m = /^\[(\d+|\*)\]/.exec(text.slice(i));
      if (!m) fail(`expected [n]${wildcards ? ', [*]' : ''} or ["key"] at ${i}`);
      if (m![1] === '*') {
        if (!wildcards) fail('wildcards are only allowed in patterns');
        out.push({ kind: 'anyIndex' });
      } else out.push({ kind: 'index', index: Number(m![1]) });
      i += m![0].length;
      continue;
    }
    if (out.length > 0) {
      if (text[i] !== '.') fail(`expected "." or "[" at ${i}`);
      i++;
    }
    if (text[i] === '*') {
      if (!wildcards) fail('wildcards are only allowed in patterns');
      out.push({ kind: 'any' });
      i++;
      continue;
    }
    const m = IDENTIFIER.exec(text.slice(i));
    if (!m) fail(`expected a key at ${i}`);
    out.push({ kind: 'key', key: m![0] });
    i += m![0].length;
  }
  if (out.length === 0) fail('empty path');
  return out;
}

export function parsePath(path: string): PathSegment[] {
  return tokenize(path, false) as PathSegment[];
}

export function parsePattern(pattern: string): PatternSegment[] {
  return tokenize(pattern, true);
}

function segmentMatches(p: PatternSegment, s: PathSegment): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'anyIndex':
      return s.kind === 'index';
    case 'index':
      return s.kind === 'index' && s.index === p.index;
    case 'key':
      return s.kind === 'key' && s.key === p.key;
  }
}

export function patternMatches(pattern: PatternSegment[], path: PathSegment[]): boolean {
  if (pattern.length > path.length) return false;
  return pattern.every((p, i) => segmentMatches(p, path[i]));
}

export function formatPattern(segments: PatternSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (s.kind === 'key') out = keyPath(out, s.key);
    else if (s.kind === 'index') out = indexPath(out, s.index);
    else if (s.kind === 'anyIndex') out = `${out}[*]`;
    else out = out === '' ? '*' : `${out}.*`;
  }
  return out;
}

/** The path with every array index replaced by `[*]`: noise found at `messages[3].x` holds for every message. */
export function generalisePath(path: string): string {
  return formatPattern(parsePath(path).map((s) => (s.kind === 'index' ? { kind: 'anyIndex' as const } : s)));
}

/** A set of patterns; `matches` is false for an unparsable or empty path rather than throwing. */
export class PathRules {
  private readonly parsed: PatternSegment[][];

  constructor(readonly patterns: readonly string[]) {
    this.parsed = patterns.map(parsePattern);
  }

  get size(): number {
    return this.parsed.length;
  }

  matches(path: string): boolean {
    if (this.parsed.length === 0 || path === '') return false;
    let segments: PathSegment[];
    try {
      segments = parsePath(path);
    } catch {
      return false;
    }
    return this.parsed.some((p) => patternMatches(p, segments));
  }

  with(more: Iterable<string>): PathRules {
    return new PathRules([...new Set([...this.patterns, ...more])]);
  }
}

/** Why `pattern` is not a valid pattern, or null. For configuration checks. */
export function patternProblem(pattern: string): string | null {
  try {
    parsePattern(pattern);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
