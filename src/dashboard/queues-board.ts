/**
 * bull-board at /queues, behind the operator check. The board is its own Express app, mounted on the
 * API's Express instance outside Nest's routing, so it gets the same check by hand: a bearer token
 * (401 without a valid one, 403 for an app token), or the cookie the dashboard mints for a browser.
 *
 * Read-only: retrying, removing, cleaning or pausing jobs from the board would change the migration's
 * state without an audit entry (a removed `traffic` job would strand an intent). The audited operator
 * endpoints (repair and dead-letter re-drive, pause, resume) are the way to act.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import type { NextFunction, Request, Response } from 'express';
import type { RedisClient } from '../stores/redis';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TokenAuthenticator } from '../common/auth/token-authenticator';
import { errorBody } from '../common/error-body';
import { ALL_QUEUES, queuePrefix } from '../queues/queue-names';
import { cookieValue, QUEUES_SESSION_COOKIE, QUEUES_SESSION_PATH, QueuesSessions } from './queues-session';
import { QUEUES_CSP, setPageHeaders } from './security-headers';

export const QUEUES_PATH = QUEUES_SESSION_PATH;

type RequestWithId = Request & { id?: string };

const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/** A cookie-authenticated change must come from a page of this origin (SameSite=Strict already keeps other sites' requests cookie-less). */
function sameOrigin(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = req.headers.origin;
  return typeof origin === 'string' && origin === `${req.protocol}://${req.headers.host}`;
}

export function queuesAuth(tokens: TokenAuthenticator, sessions: QueuesSessions) {
  return (req: RequestWithId, res: Response, next: NextFunction): void => {
    const refuse = (status: number, code: string, message: string) => {
      res.status(status).json(errorBody(status, code, message, req.id ?? 'unknown'));
    };
    setPageHeaders(res, QUEUES_CSP);
    res.setHeader('Cache-Control', 'no-store');
    if (tokens.open) return next();
    if (req.headers.authorization !== undefined) {
      const principal = tokens.authenticate(req.headers.authorization);
      if (!principal) return refuse(401, 'UNAUTHORIZED', 'A valid bearer token is required');
      if (principal.role !== 'operator') return refuse(403, 'FORBIDDEN', 'The queue board needs an operator token');
      return next();
    }
    const session = sessions.verify(cookieValue(req.headers.cookie, QUEUES_SESSION_COOKIE));
    if (!session) {
      return refuse(401, 'UNAUTHORIZED', 'An operator bearer token is required (or open the queues from the dashboard at /dashboard)');
    }
    if (!SAFE_METHODS.includes(req.method) && !sameOrigin(req)) return refuse(403, 'FORBIDDEN', 'Cross-origin request refused');
    next();
  };
}

/**
 * The board's queues: one BullMQ Queue per queue name, on a Redis connection of the board's own, made
 * when /queues is first opened (an API process nobody opens it on holds no extra connection).
 */
export class QueuesBoard {
  private board: { connection: RedisClient; queues: Queue[]; router: (req: Request, res: Response, next: NextFunction) => void } | null =
    null;

  /** `viewsDir`: bull-board's page template as the dashboard build rewrote it (no web-font link), if built. */
  constructor(
    private readonly connect: () => RedisClient,
    /** REDIS_KEY_PREFIX (Connections.keyPrefix). */
    private readonly keyPrefix: string,
    private readonly viewsDir?: string,
  ) {}

  readonly router = (req: Request, res: Response, next: NextFunction): void => {
    this.board ??= this.build();
    this.board.router(req, res, next);
  };

  private build() {
    const connection = this.connect();
    connection.on('error', () => undefined);
    const queues = ALL_QUEUES.map((name) => {
      const queue = new Queue(name, { connection, prefix: queuePrefix(this.keyPrefix, name) });
      queue.on('error', () => undefined);
      return queue;
    });
    const adapter = new ExpressAdapter();
    adapter.setBasePath(QUEUES_PATH);
    createBullBoard({
      queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: 'Migration queues', hideDocsLink: true, miscLinks: [{ text: 'Dashboard', url: '/dashboard' }] } },
    });
    if (this.viewsDir && fs.existsSync(path.join(this.viewsDir, 'index.ejs'))) adapter.setViewsPath(this.viewsDir);
    return { connection, queues, router: adapter.getRouter() };
  }

  async close(): Promise<void> {
    if (!this.board) return;
    await Promise.allSettled(this.board.queues.map((q) => q.close()));
    this.board.connection.disconnect();
    this.board = null;
  }
}
