import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthenticatedRequest } from '../common/auth/auth.guard';
import { StoreRefusedError } from '../common/errors';
import { ApiErrors } from '../http/openapi';
import { parseInput } from '../http/validation';
import {
  AppendedMessageDto,
  ConversationDto,
  ConversationIdDto,
  ConversationPageDto,
  CreateConversationDto,
  etag,
  ListConversationsDto,
  MessageInputDto,
  PatchConversationDto,
  toAppendedDto,
  toDto,
} from './conversation.dto';
import { IdempotencyKeySchema, IfMatchSchema } from './conversation.schemas';
import { Appended, appendedOf, appendRecord } from './append-record';
import { ConversationService, KeyedWrite } from './conversation.service';
import { AppendAttempt, IdempotencyService, StoredResponse } from './idempotency.service';
import type { Conversation } from '../model/conversation.model';
import { Shadowed } from './shadowed.decorator';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'Same key and body within 24 h: the first response, no second write (1-200 characters of A-Z a-z 0-9 . _ : -)',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,200}$' },
};
const IF_MATCH_HEADER = {
  name: 'If-Match',
  required: false,
  description: 'The version the change is based on, e.g. "3"; 412 if stale',
  schema: { type: 'string', pattern: '^"?[0-9]{1,15}"?$' },
};

const PREFER_HEADER = {
  name: 'Prefer',
  required: false,
  description:
    'return=minimal (RFC 7240): answer with the message added, not the whole conversation; where PostgreSQL is the source of truth the append then does not read the conversation either, so its cost does not grow with it',
  schema: { type: 'string' },
};
/** `return=minimal` among the preferences of a Prefer header (RFC 7240: comma-separated, any case, maybe quoted). */
const PREFER_MINIMAL = /(?:^|,)\s*return\s*=\s*"?minimal"?\s*(?=;|,|$)/i;

/** How an endpoint answers: the body it sends, its version, and what a keyed write stores to answer a replay. */
interface Answering<A> {
  body(a: A): unknown;
  version(a: A): number;
  stored(status: number, a: A): StoredResponse;
  /** Set where the answer depends on the Prefer header (`Vary: Prefer`): whether this request asked for the minimal one. */
  prefer?: { minimal: boolean };
}

const whole: Answering<Conversation> = {
  body: toDto,
  version: (c) => c.version,
  stored: (status, c) => ({ status, body: toDto(c), etag: etag(c.version) }),
};

/**
 * An append's answer: the conversation, or with `minimal` the message it added. A keyed append stores the write it
 * made, from which a replay rebuilds either (see StoredResponse).
 */
function appending(minimal: boolean): Answering<Conversation | Appended> {
  const body = (a: Conversation | Appended) => {
    const appended = minimal ? appendedOf(a) : null;
    if (appended) return toAppendedDto(appended);
    if ('messages' in a) return toDto(a);
    throw new Error('an append answered without the conversation, which the client did not ask for');
  };
  const version = (a: Conversation | Appended) => ('messages' in a ? a.version : a.head.version);
  return {
    body,
    version,
    stored: (status, a) => {
      const appended = appendedOf(a);
      return appended
        ? { landedStatus: status, landed: appendRecord(appended), minimal, etag: etag(version(a)) }
        : { status, body: body(a), etag: etag(version(a)) };
    },
    prefer: { minimal },
  };
}
const ifMatch = (header: string | undefined) => parseInput(IfMatchSchema, header, 'If-Match');
const idempotencyKey = (header: string | undefined) => parseInput(IdempotencyKeySchema, header, 'Idempotency-Key');

@ApiTags('conversations')
@ApiBearerAuth()
@Controller('conversations')
export class ConversationController {
  constructor(
    private readonly conversations: ConversationService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Post()
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: ConversationDto })
  @ApiErrors(409, 422)
  create(
    @Body() body: CreateConversationDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
  ) {
    return this.idempotent(idempotencyKey(key), req, res, 201, (keyed) => this.conversations.create(body, keyed), whole);
  }

  @Get()
  @ApiOkResponse({ type: ConversationPageDto })
  @Shadowed('list')
  async list(@Query() query: ListConversationsDto): Promise<ConversationPageDto> {
    const page = await this.conversations.list(query.userId, query.limit, query.cursor);
    return { items: page.items.map(toDto), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOkResponse({ type: ConversationDto })
  @ApiErrors(404)
  @Shadowed('get')
  async get(@Param() params: ConversationIdDto, @Res({ passthrough: true }) res: Response): Promise<ConversationDto> {
    return this.send(res, await this.conversations.get(params.id));
  }

  @Patch(':id')
  @ApiHeader(IF_MATCH_HEADER)
  @ApiOkResponse({ type: ConversationDto })
  @ApiErrors(404, 409, 412, 422)
  async patch(
    @Param() params: ConversationIdDto,
    @Body() body: PatchConversationDto,
    @Headers('if-match') version: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ConversationDto> {
    return this.send(res, await this.conversations.patch(params.id, body, ifMatch(version)));
  }

  @Post(':id/messages')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiHeader(PREFER_HEADER)
  @ApiExtraModels(ConversationDto, AppendedMessageDto)
  @ApiCreatedResponse({
    description: 'The conversation; with Prefer: return=minimal, the message added',
    schema: { oneOf: [{ $ref: getSchemaPath(ConversationDto) }, { $ref: getSchemaPath(AppendedMessageDto) }] },
  })
  @ApiErrors(404, 409, 412, 422)
  appendMessage(
    @Param() params: ConversationIdDto,
    @Body() body: MessageInputDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('if-match') version: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
  ) {
    const expected = ifMatch(version);
    const minimal = prefer !== undefined && PREFER_MINIMAL.test(prefer);
    return this.idempotent(
      idempotencyKey(key),
      req,
      res,
      201,
      (keyed) => this.conversations.appendMessage(params.id, body, expected, keyed, minimal),
      appending(minimal),
    );
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiNoContentResponse({ description: 'Deleted (soft, in both stores); the ETag names the version' })
  @ApiErrors(404, 409, 412)
  async remove(
    @Param() params: ConversationIdDto,
    @Headers('if-match') version: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const deleted = await this.conversations.remove(params.id, ifMatch(version));
    res.setHeader('ETag', etag(deleted.version));
  }

  private send(res: Response, c: Conversation): ConversationDto {
    res.setHeader('ETag', etag(c.version));
    return toDto(c);
  }

  private async idempotent<A>(
    key: string | undefined,
    req: AuthenticatedRequest,
    res: Response,
    status: number,
    run: (keyed?: KeyedWrite<A>) => Promise<A>,
    answering: Answering<A>,
  ): Promise<void> {
    const send = (sendStatus: number, tag: string | undefined, body: unknown, minimal: boolean) => {
      if (answering.prefer) res.setHeader('Vary', 'Prefer');
      if (minimal) res.setHeader('Preference-Applied', 'return=minimal');
      if (tag) res.setHeader('ETag', tag);
      res.status(sendStatus).json(body);
    };
    const fresh = (a: A) => send(status, etag(answering.version(a)), answering.body(a), answering.prefer?.minimal ?? false);
    if (key === undefined) return fresh(await run());
    const scope = `${req.principal?.name ?? 'anonymous'} ${req.method} ${req.path}`;
    // The body as sent (before parsing) is what "the same body" means to a client.
    const claim = await this.idempotency.claim(key, scope, req.body);
    if (claim.kind === 'replay') {
      const r = claim.response;
      // The first answer, in the form it had (whatever this request prefers).
      res.setHeader('Idempotent-Replayed', 'true');
      if ('landed' in r) return send(r.landedStatus, r.etag, await this.rebuilt(r.landed, r.minimal), r.minimal === true);
      return send(r.status, r.etag, r.body, false);
    }
    let a: A;
    try {
      // The response is stored by the write's own transaction, so it exists exactly when the write does.
      a = await run({ key: claim.key, respond: (done) => answering.stored(status, done) });
    } catch (err) {
      // Free the key for a retry at once; if this attempt may have landed, the retry finds out from the attempt record.
      await (err instanceof StoreRefusedError ? claim.key.discard() : claim.key.release()).catch(() => undefined);
      throw err;
    }
    fresh(a);
  }

  /** A keyed append's first answer again, from the write it stored (see StoredResponse). */
  private async rebuilt(landed: AppendAttempt, minimal: boolean | undefined): Promise<unknown> {
    return appending(minimal === true).body(await this.conversations.answerOf(landed));
  }
}
