/**
 * A plain node:http listener for the operational side channels (a worker's health port, the API's metrics
 * port): a few GET routes, no framework, closed with every connection on shutdown.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

/** Listens on `port` (0: any free port); GET and HEAD on `routes`, 404 elsewhere, 405 with Allow for other methods. */
export async function listenRoutes(
  port: number,
  host: string,
  routes: Record<string, Route>,
  onError: (err: Error) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0]];
    if (!route) return sendJson(res, 404, { status: 'not_found', routes: Object.keys(routes) });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { status: 'method_not_allowed' });
    }
    route(req, res).catch((err: Error) => {
      onError(err);
      if (!res.headersSent) sendJson(res, 500, { status: 'error' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
