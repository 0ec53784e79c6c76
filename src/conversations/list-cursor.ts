import type { ListPosition } from '../stores/conversation-store.port';

/** Opaque to clients: base64url of the last item's creation time and id. */
export function encodeCursor(p: ListPosition): string {
  return Buffer.from(JSON.stringify([p.createdAt.getTime(), p.id])).toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [ms, id] = value;
    if (!Number.isSafeInteger(ms) || typeof id !== 'string' || !/^[0-9a-f]{24}$/.test(id)) return null;
    return { createdAt: new Date(ms), id };
  } catch {
    return null;
  }
}
