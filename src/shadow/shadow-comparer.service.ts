/**
 * Compares one sampled read, off the request path (called by the shadow processor).
 *
 * Two comparisons may apply to a sample: `stores` (what the store the phase reads from served, against the
 * other store read now) and, when HTTP mirroring is configured, `http` (the reply the client got against the
 * legacy application's reply to the same request). The served side is the reply that travelled with the
 * sample, as Scientist's control is the result already produced; the primary store is read only when there
 * is no usable reply (a 404, a reply over the size bound), on a recheck and for calibration.
 * Each comparison is decided on its own:
 * - differences are computed in canonical form; ignore rules and known noisy fields take paths out;
 * - a difference that a version difference can explain is looked at again later (the processor delays the
 *   same job): converged means lag;
 * - still different after the last recheck, it is lag only if the copying under way explains it (domain/lag.ts):
 *   where the copying stood is read first (ShadowLagPort), then both sides again, so a copy that landed in
 *   between shows as converged instead of passing for a difference; whatever lag does not explain is a mismatch;
 * - a calibration sample reads each side a second time first; what differs between the two reads of one
 *   side at one version is noise, recorded as such and excluded from this and later comparisons.
 * - a mismatch is recorded only if the stores' roles are still those the comparison ran under (the phase read
 *   fresh): across a move that changes them (into cleanup legacy stops being written) it says nothing.
 * Every decision is stored as one sample row (and a mismatch record), which is what the windowed rate reads.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SHADOW_CONFIG, ShadowConfig } from './shadow.config';
import { MetricsService } from '../common/metrics/metrics.service';
import { canonical, CanonicalConversation } from '../model/canonical';
import { toDto } from '../conversations/conversation.dto';
import { decodeCursor } from '../conversations/list-cursor';
import { MigrationModeService } from '../mode/migration-mode.service';
import { MigrationMode, otherStore } from '../model/phases';
import { PermanentJobError } from '../queues/queue-processor';
import type { StoreName } from '../model/store-name';
import {
  Compared,
  compareRecords,
  comparePages,
  conversationPath,
  Difference,
  NoiseFinding,
  noiseBetween,
  partition,
  verdict,
} from './domain/comparison';
import { explainLag, idsOf, LagKind, Reads } from './domain/lag';
import { generalisePath, PathRules } from './domain/path-pattern';
import { redactDifference, redactValue } from './domain/redact';
import { compareReplies, HttpReply, replyContent } from './domain/response-body';
import { LEGACY_API, LegacyApiPort, MirrorRequest } from './legacy-api.client';
import { SHADOW_LAG, ShadowLagPort } from './shadow-lag.port';
import { SHADOW_READ_PORT, ShadowReadPort } from './shadow-read.port';
import type { ShadowPayload } from './shadow-queue';
import { ComparisonKind, MismatchRow, SampleOutcome, SampleRow, ShadowRepository } from './shadow.repository';

/** Noisy fields found by other workers reach this one within this time. */
const NOISE_REFRESH_MS = 5000;
const PRUNE_EVERY_MS = 60_000;
const MAX_RECORDED_DIFFERENCES = 50;
const MAX_RECORDED_PATHS = 200;

/** Decisions gathered to be stored together (recordDecided), e.g. those of one shadow job. */
export type DecidedOutcomes = Array<{ sample: SampleRow; mismatch?: MismatchRow }>;

export type CompareResult = { decided: Partial<Record<ComparisonKind, SampleOutcome>>; recheck?: ShadowPayload; skipped?: string };

interface Side {
  compared: Compared;
  primarySide: string;
  secondarySide: string;
  /** Both sides with the store each stands for, when lag can explain their differences (both read from stores). */
  reads?: Reads;
}

type Decision = { outcome: SampleOutcome; lag?: LagKind; mismatch?: { side: Side; real: Difference[] } };

@Injectable()
export class ShadowComparer {
  private readonly logger = new Logger('ShadowComparer');
  private readonly ignore: PathRules;
  private noise: Record<ComparisonKind, PathRules> = { stores: new PathRules([]), http: new PathRules([]) };
  private noiseLoadedAt = 0;
  private lastPrune = 0;
  private readonly comparedTotal;
  private readonly outcomes;
  private readonly rechecks;
  private readonly noiseFound;
  private readonly lagged;

  constructor(
    @Inject(SHADOW_READ_PORT) private readonly reader: ShadowReadPort,
    @Inject(SHADOW_LAG) private readonly lag: ShadowLagPort,
    @Inject(LEGACY_API) private readonly legacyApi: LegacyApiPort,
    private readonly repo: ShadowRepository,
    private readonly mode: MigrationModeService,
    @Inject(SHADOW_CONFIG) private readonly config: ShadowConfig,
    metrics: MetricsService,
  ) {
    this.ignore = new PathRules(config.ignorePaths);
    this.comparedTotal = metrics.counter('shadow_compared_total', 'Shadow comparisons decided (every outcome but error)', [
      'kind',
      'endpoint',
    ]);
    this.outcomes = metrics.counter(
      'shadow_comparisons_total',
      'Shadow comparisons by outcome: matched, mismatched, lag, ignored, noisy, error',
      ['kind', 'endpoint', 'outcome'],
    );
    this.rechecks = metrics.counter('shadow_rechecks_total', 'Shadow comparisons put off to be looked at again (version difference)', [
      'kind',
    ]);
    this.noiseFound = metrics.counter('shadow_noisy_fields_found_total', 'Noisy fields found by calibration (one per path and read)', [
      'kind',
      'source',
    ]);
    this.lagged = metrics.counter(
      'shadow_lag_total',
      'Shadow comparisons decided as lag, by why the other side was behind: converged, not_copied, not_caught_up, follow_up',
      ['kind', 'reason'],
    );
  }

  /** With `outcomes`, the decisions are gathered there for recordDecided instead of being stored one by one. */
  async compare(payload: ShadowPayload, outcomes?: DecidedOutcomes): Promise<CompareResult> {
    const mode = await this.mode.current();
    // The phase moved on since the sample was taken: comparing now would say nothing about it.
    if (!mode.shadow) return { decided: {}, skipped: `phase ${mode.phase} has no shadow comparison` };
    await this.refreshNoise();
    const attempt = payload.attempt ?? 0;
    const parts = payload.pending ?? this.partsFor(payload);
    const decided: CompareResult['decided'] = {};
    const pending: ComparisonKind[] = [];
    let moved: string | undefined;
    await Promise.all(
      parts.map(async (kind) => {
        const outcome = await this.compareOne(kind, payload, mode, attempt, outcomes);
        if (outcome === 'recheck') pending.push(kind);
        else if (typeof outcome === 'object') moved = outcome.moved;
        else decided[kind] = outcome;
      }),
    );
    this.pruneNowAndThen();
    if (moved) return { decided, skipped: moved };
    if (pending.length === 0) return { decided };
    for (const kind of pending) this.rechecks.inc({ kind });
    // The captured reply is of no use once time has passed; a recheck asks both sides again.
    return { decided, recheck: { ...payload, attempt: attempt + 1, pending: pending.sort(), served: undefined, calibration: false } };
  }

  private partsFor(payload: ShadowPayload): ComparisonKind[] {
    const served = payload.served;
    const mirrored =
      served !== undefined && (served.status !== 200 || served.body !== undefined) && this.legacyApi.supports(mirrorRequest(payload));
    return mirrored ? ['stores', 'http'] : ['stores'];
  }

  private async compareOne(
    kind: ComparisonKind,
    payload: ShadowPayload,
    mode: MigrationMode,
    attempt: number,
    outcomes?: DecidedOutcomes,
  ): Promise<SampleOutcome | 'recheck' | { moved: string }> {
    let decision: Decision | 'recheck';
    try {
      decision = await this.decide(kind, payload, mode, attempt);
      if (decision !== 'recheck' && decision.outcome === 'mismatched') {
        const now = await this.mode.fresh();
        if (!sameRoles(now, mode)) return { moved: `the phase moved from ${mode.phase} to ${now.phase} during the comparison` };
      }
    } catch (err) {
      if (err instanceof PermanentJobError) throw err;
      this.logger.warn({
        msg: 'shadow comparison failed',
        kind,
        endpoint: payload.endpoint,
        id: payload.id,
        error: (err as Error).message,
      });
      await this.record(kind, payload, attempt, { outcome: 'error' }, undefined, outcomes);
      return 'error';
    }
    if (decision === 'recheck') return 'recheck';
    await this.record(
      kind,
      payload,
      attempt,
      decision,
      decision.mismatch ? this.mismatch(kind, payload, mode, attempt, decision.mismatch.side, decision.mismatch.real) : undefined,
      outcomes,
    );
    return decision.outcome;
  }

  private read(kind: ComparisonKind, payload: ShadowPayload, mode: MigrationMode, attempt: number): Promise<Side> {
    return kind === 'stores' ? this.readStores(payload, mode, attempt) : this.readHttp(payload, mode, attempt);
  }

  private async decide(kind: ComparisonKind, payload: ShadowPayload, mode: MigrationMode, attempt: number): Promise<Decision | 'recheck'> {
    const side = await this.read(kind, payload, mode, attempt);
    const v = verdict({
      compared: side.compared,
      ignore: this.ignore,
      noise: this.noise[kind],
      rechecks: attempt,
      maxRechecks: this.config.lagRechecks,
    });
    if (v.kind === 'recheck') return 'recheck';
    if (v.outcome === 'lag') return { outcome: 'lag', lag: 'converged' };
    if (v.outcome !== 'mismatched') return { outcome: v.outcome };
    if (!side.compared.versionsDiffer || !side.reads) return { outcome: 'mismatched', mismatch: { side, real: v.real } };
    return this.lookForLag(kind, payload, mode, attempt, side.reads);
  }

  /**
   * A difference with one side behind, after its last recheck: where the copying stood is read first, then
   * both sides again (an attempt past 0: no captured reply, no calibration), and lag explains what it can.
   */
  private async lookForLag(
    kind: ComparisonKind,
    payload: ShadowPayload,
    mode: MigrationMode,
    attempt: number,
    seen: Reads,
  ): Promise<Decision> {
    const state = await this.lag.copyState(idsOf(seen));
    const fresh = await this.read(kind, payload, mode, attempt + 1);
    const real = partition(fresh.compared.differences, this.ignore, this.noise[kind]).real;
    if (real.length === 0) return { outcome: 'lag', lag: 'converged' };
    if (fresh.compared.versionsDiffer && fresh.reads) {
      const { kinds, rest } = explainLag(fresh.reads, state);
      if (kinds.length > 0 && partition(rest.differences, this.ignore, this.noise[kind]).real.length === 0)
        return { outcome: 'lag', lag: kinds[0] };
    }
    return { outcome: 'mismatched', mismatch: { side: fresh, real } };
  }

  private async readStores(payload: ShadowPayload, mode: MigrationMode, attempt: number): Promise<Side> {
    const served = attempt === 0 ? payload.served : undefined;
    // The store that served the read (the phase's, unless the phase changed in between).
    const primary = served?.store ?? mode.readFrom;
    const secondary = otherStore(primary);
    const sides = { primarySide: primary, secondarySide: secondary };
    const calibrate = payload.calibration && attempt === 0;
    const reply =
      served?.status === 200 && served.body !== undefined ? replyContent(payload.endpoint, { status: 200, body: served.body }) : null;
    if (payload.endpoint === 'get') {
      const id = required(payload.id, 'id');
      const read = async (s: StoreName) => {
        const c = await this.reader.get(s, id);
        return c ? canonical(c) : null;
      };
      const [a, b] = await Promise.all([reply !== null && !Array.isArray(reply) ? reply : read(primary), read(secondary)]);
      if (calibrate) {
        const [a2, b2] = await Promise.all([read(primary), read(secondary)]);
        await this.calibrate('stores', { [primary]: [a, a2], [secondary]: [b, b2] });
      }
      return { ...sides, compared: compareRecords(a, b), reads: { endpoint: 'get', id, stores: [primary, secondary], left: a, right: b } };
    }
    const { userId, limit, after } = listArgs(payload);
    const page = async (s: StoreName) => (await this.reader.list(s, userId, limit, after)).map(canonical);
    const [a, b] = await Promise.all([Array.isArray(reply) ? reply : page(primary), page(secondary)]);
    if (calibrate) {
      const [a2, b2] = await Promise.all([page(primary), page(secondary)]);
      await this.calibrate('stores', { [primary]: [a, a2], [secondary]: [b, b2] });
    }
    return { ...sides, compared: comparePages(a, b), reads: { endpoint: 'list', limit, stores: [primary, secondary], left: a, right: b } };
  }

  private async readHttp(payload: ShadowPayload, mode: MigrationMode, attempt: number): Promise<Side> {
    const request = mirrorRequest(payload);
    const served = attempt === 0 ? payload.served : undefined;
    const ours: HttpReply = served ? { status: served.status, body: served.body } : await this.renderOurs(payload, mode);
    const theirs = await this.legacyApi.fetch(request);
    if (payload.calibration && attempt === 0) {
      const again = await this.legacyApi.fetch(request);
      await this.calibrate('http', { legacy_api: [replyContent(payload.endpoint, theirs), replyContent(payload.endpoint, again)] });
    }
    const ourStore = served?.store ?? mode.readFrom;
    return {
      primarySide: 'service',
      secondarySide: 'legacy_api',
      compared: compareReplies(payload.endpoint, ours, theirs),
      reads: replyReads(payload, ourStore, ours, theirs),
    };
  }

  /** What this service answers now, from the store the phase reads (as the controller renders it). */
  private async renderOurs(payload: ShadowPayload, mode: MigrationMode): Promise<HttpReply> {
    if (payload.endpoint === 'get') {
      const c = await this.reader.get(mode.readFrom, required(payload.id, 'id'));
      return c && !c.deleted ? { status: 200, body: toDto(c) } : { status: 404 };
    }
    const { userId, limit, after } = listArgs(payload);
    return { status: 200, body: { items: (await this.reader.list(mode.readFrom, userId, limit, after)).map(toDto) } };
  }

  private async calibrate(
    kind: ComparisonKind,
    reads: Record<string, [CanonicalConversation | CanonicalConversation[] | null, CanonicalConversation | CanonicalConversation[] | null]>,
  ): Promise<void> {
    const found: string[] = [];
    for (const [source, [first, second]] of Object.entries(reads)) {
      const noise: NoiseFinding[] = noiseBetween(first, second);
      if (noise.length === 0) continue;
      const max = this.config.valueMaxChars;
      await this.repo.recordNoise(
        kind,
        source,
        noise.map((n) => ({
          path: n.path,
          example: { first: redactValue(n.path, n.first, max) ?? null, second: redactValue(n.path, n.second, max) ?? null },
        })),
      );
      this.noiseFound.inc({ kind, source }, noise.length);
      found.push(...noise.map((n) => n.path));
    }
    if (found.length > 0) this.noise[kind] = this.noise[kind].with(found);
  }

  private async refreshNoise(): Promise<void> {
    if (Date.now() - this.noiseLoadedAt < NOISE_REFRESH_MS) return;
    try {
      const fields = await this.repo.noisyFields();
      this.noise = {
        stores: new PathRules(fields.filter((f) => f.kind === 'stores').map((f) => f.path)),
        http: new PathRules(fields.filter((f) => f.kind === 'http').map((f) => f.path)),
      };
      this.noiseLoadedAt = Date.now();
    } catch (err) {
      this.logger.warn({ msg: 'noisy fields could not be read; using the last known set', error: (err as Error).message });
    }
  }

  private mismatch(
    kind: ComparisonKind,
    payload: ShadowPayload,
    mode: MigrationMode,
    attempt: number,
    side: Side,
    real: Compared['differences'],
  ): MismatchRow {
    const paths = real.map((d) => d.path);
    const patterns = new Set<string>();
    for (const p of paths) {
      for (const candidate of [p, conversationPath(p)]) {
        if (candidate === '') continue;
        try {
          patterns.add(generalisePath(candidate));
        } catch {
          /* not a path the patterns can spell; the exact path is kept */
        }
      }
    }
    return {
      kind,
      endpoint: payload.endpoint,
      conversationId: payload.id ?? null,
      userId: payload.userId ?? null,
      request: payload.endpoint === 'list' ? { limit: payload.limit, cursor: payload.cursor } : {},
      phase: mode.phase,
      primarySide: side.primarySide,
      secondarySide: side.secondarySide,
      primaryVersion: side.compared.leftVersion,
      secondaryVersion: side.compared.rightVersion,
      paths: paths.slice(0, MAX_RECORDED_PATHS),
      pathPatterns: [...patterns].slice(0, MAX_RECORDED_PATHS),
      differences: real.slice(0, MAX_RECORDED_DIFFERENCES).map((d) => redactDifference(d, this.config.valueMaxChars)),
      differenceCount: real.length,
      rechecks: attempt,
      sampledAt: new Date(payload.sampledAt),
    };
  }

  private async record(
    kind: ComparisonKind,
    payload: ShadowPayload,
    attempt: number,
    decision: Decision,
    mismatch?: MismatchRow,
    outcomes?: DecidedOutcomes,
  ): Promise<void> {
    const decided = {
      sample: {
        kind,
        endpoint: payload.endpoint,
        outcome: decision.outcome,
        lagKind: decision.lag ?? null,
        calibration: payload.calibration,
        rechecks: attempt,
        sampledAt: new Date(payload.sampledAt),
      },
      mismatch,
    };
    if (outcomes) outcomes.push(decided);
    else await this.recordDecided([decided]);
  }

  /** Stores decisions, then counts them. */
  async recordDecided(outcomes: DecidedOutcomes): Promise<void> {
    if (outcomes.length === 0) return;
    await this.repo.recordOutcomes(outcomes);
    for (const { sample } of outcomes) {
      const { kind, endpoint, outcome, lagKind } = sample;
      this.outcomes.inc({ kind, endpoint, outcome });
      if (lagKind) this.lagged.inc({ kind, reason: lagKind });
      if (outcome !== 'error') this.comparedTotal.inc({ kind, endpoint });
    }
  }

  private pruneNowAndThen(): void {
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    const { retentionMs, maxMismatchRecords } = this.config;
    this.repo
      .prune(retentionMs, maxMismatchRecords)
      .catch((err) => this.logger.warn({ msg: 'shadow retention failed', error: (err as Error).message }));
  }
}

/** Whether two modes give the stores the same roles (steps of one phase differ only in weights). */
function sameRoles(a: MigrationMode, b: MigrationMode): boolean {
  return a.sourceOfTruth === b.sourceOfTruth && a.dualWrite === b.dualWrite && a.readFrom === b.readFrom && a.shadow === b.shadow;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new PermanentJobError(`shadow job without ${name}`);
  return value;
}

function listArgs(payload: ShadowPayload) {
  const after = payload.cursor === undefined ? undefined : decodeCursor(payload.cursor);
  if (after === null) throw new PermanentJobError('shadow job with a cursor this API did not issue');
  return { userId: required(payload.userId, 'userId'), limit: required(payload.limit, 'limit'), after };
}

/**
 * The mirror's sides as store reads, for lag: only while this service reads the new store (the legacy
 * application reads legacy, so before the flip both sides read one store and lag explains nothing between
 * them), and only for replies that say present (200) or absent (404).
 */
function replyReads(payload: ShadowPayload, ourStore: StoreName, ours: HttpReply, theirs: HttpReply): Reads | undefined {
  if (ourStore !== 'new' || ![ours.status, theirs.status].every((s) => s === 200 || s === 404)) return undefined;
  const [left, right] = [replyContent(payload.endpoint, ours), replyContent(payload.endpoint, theirs)];
  const stores = ['new', 'legacy'] as const;
  if (payload.endpoint === 'get') {
    if (Array.isArray(left) || Array.isArray(right) || (ours.status === 200 && left === null) || (theirs.status === 200 && right === null))
      return undefined;
    return { endpoint: 'get', id: required(payload.id, 'id'), stores, left, right };
  }
  if (!Array.isArray(left) || !Array.isArray(right)) return undefined;
  return { endpoint: 'list', limit: required(payload.limit, 'limit'), stores, left, right };
}

export function mirrorRequest(payload: ShadowPayload): MirrorRequest {
  return { endpoint: payload.endpoint, id: payload.id, userId: payload.userId, limit: payload.limit, cursor: payload.cursor };
}
