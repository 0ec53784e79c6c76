/**
 * The dashboard's files, built by scripts/build-dashboard.js into dist/dashboard and read once into
 * memory: a handful of small files, served with an ETag, never looked up on disk by a request's path.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BundleFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** dist/dashboard of the package this file belongs to (src/dashboard under ts-node and Jest, dist/src/dashboard when built). */
export function defaultBundleDir(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'dashboard');
    if (path.dirname(dir) === dir) return path.join(from, 'dashboard');
  }
}

/** The bundle's files by name, or null when it has not been built. */
export function loadBundle(dir: string): Map<string, BundleFile> | null {
  if (!fs.existsSync(path.join(dir, 'index.html'))) return null;
  const files = new Map<string, BundleFile>();
  for (const name of fs.readdirSync(dir)) {
    const contentType = TYPES[path.extname(name)];
    if (!contentType) continue;
    const body = fs.readFileSync(path.join(dir, name));
    files.set(name, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return files;
}
