import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthenticatedRequest } from '../common/auth/auth.guard';
import { StoreRefusedError } from '../common/errors';
import { ApiErrors } from '../http/openapi';
import { parseInput } from '../http/validation';
import {
  ConversationDto,
  ConversationIdDto,
  ConversationPageDto,
  CreateConversationDto,
  etag,
  ListConversationsDto,
  MessageInputDto,
  PatchConversationDto,
  toDto,
} from './conversation.dto';
import { IdempotencyKeySchema, IfMatchSchema } from './conversation.schemas';
import { appendRecord } from './append-record';
import { ConversationService, KeyedWrite } from './conversation.service';
import { IdempotencyService, StoredResponse } from './idempotency.service';
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

/** A keyed write's stored response: its body as answered. */
const wholeStored = (status: number, done: Conversation): StoredResponse => ({ status, body: toDto(done), etag: etag(done.version) });
/** A keyed append's: the write it made, from which a replay rebuilds the body (see StoredResponse). */
const appendStored = (status: number, done: Conversation): StoredResponse => {
  const landed = appendRecord(done);
  return landed ? { landedStatus: status, landed, etag: etag(done.version) } : wholeStored(status, done);
};
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
    return this.idempotent(idempotencyKey(key), req, res, 201, (keyed) => this.conversations.create(body, keyed));
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
  @ApiCreatedResponse({ type: ConversationDto })
  @ApiErrors(404, 409, 412, 422)
  appendMessage(
    @Param() params: ConversationIdDto,
    @Body() body: MessageInputDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('if-match') version: string | undefined,
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
  ) {
    const expected = ifMatch(version);
    return this.idempotent(
      idempotencyKey(key),
      req,
      res,
      201,
      (keyed) => this.conversations.appendMessage(params.id, body, expected, keyed),
      appendStored,
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

  private async idempotent(
    key: string | undefined,
    req: AuthenticatedRequest,
    res: Response,
    status: number,
    run: (keyed?: KeyedWrite) => Promise<Conversation>,
    stored: (status: number, done: Conversation) => StoredResponse = wholeStored,
  ): Promise<void> {
    if (key === undefined) {
      const c = await run();
      res.status(status).setHeader('ETag', etag(c.version)).json(toDto(c));
      return;
    }
    const scope = `${req.principal?.name ?? 'anonymous'} ${req.method} ${req.path}`;
    // The body as sent (before parsing) is what "the same body" means to a client.
    const claim = await this.idempotency.claim(key, scope, req.body);
    if (claim.kind === 'replay') {
      const r = claim.response;
      const [replayStatus, replayed] =
        'landed' in r ? [r.landedStatus, toDto(await this.conversations.answerOf(r.landed))] : [r.status, r.body];
      if (r.etag) res.setHeader('ETag', r.etag);
      res.status(replayStatus).setHeader('Idempotent-Replayed', 'true').json(replayed);
      return;
    }
    let c: Conversation;
    try {
      // The response is stored by the write's own transaction, so it exists exactly when the write does.
      c = await run({ key: claim.key, respond: (done) => stored(status, done) });
    } catch (err) {
      // Free the key for a retry at once; if this attempt may have landed, the retry finds out from the attempt record.
      await (err instanceof StoreRefusedError ? claim.key.discard() : claim.key.release()).catch(() => undefined);
      throw err;
    }
    res.status(status).setHeader('ETag', etag(c.version)).json(toDto(c));
  }
}
