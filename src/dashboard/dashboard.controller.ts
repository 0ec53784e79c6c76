import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { apiDto } from '../http/openapi';
import { ApiErrors } from '../http/openapi';
import { z } from '../http/schema-kit';
import type { Request, Response } from 'express';
import { AuthenticatedRequest, OperatorOnly, Public } from '../common/auth/auth.guard';
import { DomainError } from '../common/errors';
import { BundleFile } from './dashboard-bundle';
import { DASHBOARD_BUNDLE } from './dashboard.tokens';
import { QUEUES_SESSION_COOKIE, QUEUES_SESSION_PATH, QueuesSessions } from './queues-session';
import { DASHBOARD_CSP, setPageHeaders } from './security-headers';

const QueuesSessionSchema = z.object({
  url: z.string().meta({ description: 'Where the board is: /queues/' }),
  expiresAt: z
    .string()
    .meta({ format: 'date-time' })
    .nullable()
    .meta({ description: 'When the cookie expires (null in local development mode)' }),
});

class QueuesSessionDto extends apiDto(QueuesSessionSchema) {}

function isHttps(req: Request): boolean {
  return req.secure || req.headers['x-forwarded-proto'] === 'https';
}

/**
 * The operator dashboard: a static bundle (public: it holds no data and no secret; everything it shows
 * comes from the operator endpoints with the token the operator enters), and the cookie that opens
 * the /queues board in a browser.
 */
@ApiTags('dashboard')
@Controller('dashboard')
export class DashboardController {
  constructor(
    @Inject(DASHBOARD_BUNDLE) private readonly bundle: Map<string, BundleFile> | null,
    private readonly sessions: QueuesSessions,
  ) {}

  @Public()
  @Get()
  @ApiExcludeEndpoint()
  page(@Req() req: Request, @Res() res: Response) {
    this.send('index.html', req, res);
  }

  @Public()
  @Get('assets/:name')
  @ApiExcludeEndpoint()
  asset(@Param('name') name: string, @Req() req: Request, @Res() res: Response) {
    if (name === 'index.html') throw new DomainError('NOT_FOUND', 404, 'No such dashboard file');
    this.send(name, req, res);
  }

  @OperatorOnly()
  @ApiBearerAuth()
  @Post('queues-session')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sets a short-lived HttpOnly, SameSite=Strict cookie (path /queues) with which a browser can open the /queues board',
  })
  @ApiOkResponse({ type: QueuesSessionDto })
  @ApiErrors(403)
  queuesSession(@Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    const principal = req.principal!;
    if (principal.name === 'local-dev') return { url: `${QUEUES_SESSION_PATH}/`, expiresAt: null };
    const { value, expiresAt } = this.sessions.mint(principal.name);
    res.cookie(QUEUES_SESSION_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: isHttps(req),
      path: QUEUES_SESSION_PATH,
      maxAge: expiresAt - Date.now(),
    });
    res.setHeader('Cache-Control', 'no-store');
    return { url: `${QUEUES_SESSION_PATH}/`, expiresAt: new Date(expiresAt).toISOString() };
  }

  @Public()
  @Delete('queues-session')
  @HttpCode(204)
  @ApiOperation({ summary: 'Clears the /queues cookie (the dashboard calls it on sign-out)' })
  @ApiNoContentResponse({ description: 'Cleared' })
  endQueuesSession(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    res.clearCookie(QUEUES_SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: isHttps(req), path: QUEUES_SESSION_PATH });
  }

  private send(name: string, req: Request, res: Response): void {
    if (!this.bundle) throw new DomainError('DASHBOARD_NOT_BUILT', 503, 'The dashboard bundle is not built: run npm run build');
    const file = this.bundle.get(name);
    if (!file) throw new DomainError('NOT_FOUND', 404, 'No such dashboard file');
    setPageHeaders(res, DASHBOARD_CSP);
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', file.etag);
    if (req.headers['if-none-match'] === file.etag) {
      res.status(304).end();
      return;
    }
    res.status(200).end(req.method === 'HEAD' ? undefined : file.body);
  }
}
