import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthenticatedRequest } from '../common/auth/auth.guard';
import { ValidationFailedError } from '../common/errors';
import { ConversationDto, ConversationPageDto, CreateConversationDto, etag, MessageInputDto, PatchConversationDto, toDto } from './conversation.dto';
import { parseCreate, parseId, parseIfMatch, parseListQuery, parseMessage, parsePatch } from './conversation-input';
import { ConversationService, KeyedWrite } from './conversation.service';
import { IdempotencyService } from './idempotency.service';
import type { Conversation } from '../model/conversation.model';
import { Shadowed } from './shadowed.decorator';

const IDEMPOTENCY_HEADER = { name: 'Idempotency-Key', required: false, description: 'Same key and body within 24 h: the first response, no second write' };
const IF_MATCH_HEADER = { name: 'If-Match', required: false, description: 'The version the change is based on; 412 if stale' };

@ApiTags('conversations')
@ApiBearerAuth()
@Controller('conversations')
export class ConversationController {
  constructor(
    private readonly conversations: ConversationService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Post()
  @ApiBody({ type: CreateConversationDto })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiCreatedResponse({ type: ConversationDto })
  create(@Body() body: unknown, @Headers('idempotency-key') key: string | undefined, @Req() req: AuthenticatedRequest, @Res() res: Response) {
    const input = parseCreate(body);
    return this.idempotent(key, req, body, res, 201, (keyed) => this.conversations.create(input, keyed));
  }

  @Get()
  @ApiQuery({ name: 'userId', required: true })
  @ApiQuery({ name: 'limit', required: false, description: '1..100, default 20' })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ type: ConversationPageDto })
  @Shadowed('list')
  async list(@Query() query: Record<string, unknown>): Promise<ConversationPageDto> {
    const { userId, limit, cursor } = parseListQuery(query);
    const page = await this.conversations.list(userId, limit, cursor);
    return { items: page.items.map(toDto), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOkResponse({ type: ConversationDto })
  @Shadowed('get')
  async get(@Param('id') id: string, @Res({ passthrough: true }) res: Response): Promise<ConversationDto> {
    return this.send(res, await this.conversations.get(parseId(id)));
  }

  @Patch(':id')
  @ApiBody({ type: PatchConversationDto })
  @ApiHeader(IF_MATCH_HEADER)
  @ApiOkResponse({ type: ConversationDto })
  async patch(@Param('id') id: string, @Body() body: unknown, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) res: Response) {
    const [cid, input, version] = [parseId(id), parsePatch(body), parseIfMatch(ifMatch)];
    return this.send(res, await this.conversations.patch(cid, input, version));
  }

  @Post(':id/messages')
  @ApiBody({ type: MessageInputDto })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiCreatedResponse({ type: ConversationDto })
  appendMessage(
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('if-match') ifMatch: string | undefined,
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
  ) {
    const [cid, message, version] = [parseId(id), parseMessage(body), parseIfMatch(ifMatch)];
    return this.idempotent(key, req, body, res, 201, (keyed) => this.conversations.appendMessage(cid, message, version, keyed));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiNoContentResponse()
  async remove(@Param('id') id: string, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) res: Response): Promise<void> {
    const [cid, version] = [parseId(id), parseIfMatch(ifMatch)];
    const deleted = await this.conversations.remove(cid, version);
    res.setHeader('ETag', etag(deleted.version));
  }

  private send(res: Response, c: Conversation): ConversationDto {
    res.setHeader('ETag', etag(c.version));
    return toDto(c);
  }

  private async idempotent(
    key: string | undefined,
    req: AuthenticatedRequest,
    body: unknown,
    res: Response,
    status: number,
    run: (keyed?: KeyedWrite) => Promise<Conversation>,
  ): Promise<void> {
    if (key === undefined) {
      const c = await run();
      res.status(status).setHeader('ETag', etag(c.version)).json(toDto(c));
      return;
    }
    if (!IdempotencyService.validKey(key)) throw new ValidationFailedError([{ field: 'Idempotency-Key', message: 'must be 1-200 characters of A-Z a-z 0-9 . _ : -' }]);
    const scope = `${req.principal?.name ?? 'anonymous'} ${req.method} ${req.path}`;
    const claim = await this.idempotency.claim(key, scope, body);
    if (claim.kind === 'replay') {
      const r = claim.response;
      if (r.etag) res.setHeader('ETag', r.etag);
      res.status(r.status).setHeader('Idempotent-Replayed', 'true').json(r.body);
      return;
    }
    let c: Conversation;
    try {
      // The response is stored by the write's own transaction, so it exists exactly when the write does.
      c = await run({ key: claim.key, respond: (done) => ({ status, body: toDto(done), etag: etag(done.version) }) });
    } catch (err) {
      // Free the key for a retry at once; if this attempt may have landed, the retry finds out from the attempt record.
      await claim.key.release().catch(() => undefined);
      throw err;
    }
    res.status(status).setHeader('ETag', etag(c.version)).json(toDto(c));
  }
}
