/**
 * The write and read concerns of this service's legacy connection.
 *
 * A write acknowledged with `w: 1` is on the primary alone, and without `j` not yet in its journal: a failover
 * rolls it back, and a primary that dies within its journal's commit interval (100 ms) forgets it. While legacy is
 * the source of truth the API acknowledges its writes to clients on legacy's word, so that word has to be a
 * majority's, journaled, or SPEC section 5 ("no write acknowledged to a client is ever lost", "no two writes
 * acknowledged with the same version") does not hold across a failover. The default write concern is therefore
 * `{w: 'majority', journal: true}`, with a bound (`wtimeoutMS`) on how long a write waits for the majority: past
 * it legacy answers with a write concern error, the write may or may not survive, and the service takes it as not
 * done (503 for a request, dependency-errors.ts; an Error for that write of a batch, which keeps its follow-up).
 *
 * Reads default to read concern `majority`, for the same reason: what the service reads from legacy decides
 * things (a repair finding legacy already holds a write removes its follow-up; a compare-and-set builds on the
 * version it read; a client is answered with it), and a write only the primary holds is one a failover takes back.
 * With both at majority the service still reads its own writes: a write is acknowledged once the majority has it.
 *
 * A connection string that names its own (`w`, `journal`, `wtimeoutMS` and their old spellings; `readConcernLevel`)
 * keeps it: the operator chose; one weaker than these is logged at start-up (concernRisks).
 */
import type { ReadConcernLike, WriteConcernSettings } from 'mongodb';

/** Below the clients' own timeouts (10 s and up), so that a write a majority cannot confirm is answered, not dropped. */
export const LEGACY_WTIMEOUT_MS = 5000;

export const DEFAULT_LEGACY_WRITE_CONCERN: Readonly<WriteConcernSettings> = Object.freeze({
  w: 'majority',
  journal: true,
  wtimeoutMS: LEGACY_WTIMEOUT_MS,
});

export const DEFAULT_LEGACY_READ_CONCERN = Object.freeze({ level: 'majority' as const });

/** The connection string options that set a write concern (the driver reads option names case-insensitively). */
const WRITE_CONCERN_OPTIONS = new Set(['w', 'journal', 'j', 'wtimeoutms', 'wtimeout', 'fsync']);
const READ_CONCERN_OPTIONS = new Set(['readconcernlevel']);

/** The options of a mongodb:// or mongodb+srv:// connection string, by lower-case name. */
function optionNames(url: string): string[] {
  const query = url.indexOf('?');
  if (query < 0) return [];
  return [...new URLSearchParams(url.slice(query + 1)).keys()].map((k) => k.toLowerCase());
}

/** The concerns to give the client for `url`: the defaults, but for any the URL names itself. */
export function legacyConcerns(url: string): { writeConcern?: WriteConcernSettings; readConcern?: ReadConcernLike } {
  const names = optionNames(url);
  return {
    ...(names.some((n) => WRITE_CONCERN_OPTIONS.has(n)) ? {} : { writeConcern: { ...DEFAULT_LEGACY_WRITE_CONCERN } }),
    ...(names.some((n) => READ_CONCERN_OPTIONS.has(n)) ? {} : { readConcern: { ...DEFAULT_LEGACY_READ_CONCERN } }),
  };
}

/**
 * Why the effective concerns (the client's, after the URL) may lose acknowledged writes or decide on writes a
 * failover takes back; none when they are a journaled majority (`journal` unset under `w: 'majority'` is journaled:
 * writeConcernMajorityJournalDefault) and majority reads.
 */
export function concernRisks(options: { writeConcern?: { w?: unknown; journal?: unknown }; readConcern?: { level?: unknown } }): string[] {
  const out: string[] = [];
  const w = options.writeConcern?.w;
  if (w !== 'majority')
    out.push(
      `w is ${w === undefined ? "the server's default" : JSON.stringify(w)}, not "majority": a failover can roll back an acknowledged write`,
    );
  else if (options.writeConcern?.journal === false)
    out.push('journal is false: a majority that restarts within its commit interval can forget an acknowledged write');
  const level = options.readConcern?.level;
  if (level !== 'majority' && level !== 'linearizable')
    out.push(
      `read concern is ${level === undefined ? "the server's default" : JSON.stringify(level)}: reads can see a write a failover takes back`,
    );
  return out;
}
