/** The process's server section (AppConfig `app`): ports, limits, the log level and the OpenAPI document. */
import type { EnvReader } from '../config/env-reader';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** OpenAPI (/docs, /docs-json): open to anyone, behind an operator token, or not served at all. */
export type ApiDocsMode = 'public' | 'operator' | 'off';
export const API_DOCS_MODES: readonly ApiDocsMode[] = ['public', 'operator', 'off'];

export interface ServerConfig {
  port: number;
  /** The API's Prometheus listener (0: none). */
  metricsPort: number;
  localDevMode: boolean;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  maxHeaderBytes: number;
  /**
   * How long a kept-alive connection may sit idle before the server closes it (HTTP_KEEP_ALIVE_TIMEOUT_MS). Longer
   * than the idle timeout of what stands in front (a load balancer's 60 s, a proxy's pool): then that side closes
   * idle connections, and a request it sends can never meet the server closing the connection under it (a reset:
   * a 502 at the proxy, ECONNRESET for a direct client). Node's own default is 5 s.
   */
  keepAliveTimeoutMs: number;
  docs: ApiDocsMode;
}

export const SERVER_CONFIG = Symbol('SERVER_CONFIG');

export function readServerConfig(r: EnvReader): ServerConfig {
  return {
    port: r.int('PORT', 3000, 0, 65535),
    metricsPort: r.int('METRICS_PORT', 9464, 0, 65535),
    localDevMode: r.bool('LOCAL_DEV_MODE', false),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    bodyLimitBytes: 1024 * 1024,
    maxHeaderBytes: r.int('MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024),
    keepAliveTimeoutMs: r.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 1_000, 600_000),
    docs: r.oneOf('API_DOCS', API_DOCS_MODES, 'operator'),
  };
}
