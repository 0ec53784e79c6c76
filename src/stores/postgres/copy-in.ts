/** `COPY ... FROM STDIN` from a string, for the sync's staged batches (PostgresConversationStore.putManyStaged). */
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

const CHUNK = 1 << 20;

/**
 * Streams `text` into `COPY ... FROM STDIN` on `client`, a megabyte of UTF-8 per write. The COPY can fail while the
 * writes wait for the socket to drain: on a connection whose session PostgreSQL ended, it fails on the next tick,
 * and the drain never comes. So its outcome is handled from the start and raced with every wait: the caller gets
 * the failure at once. (Awaited only after the writes, it was a rejection nobody handled, which ends a Node process:
 * a worker died of it while PostgreSQL ended its sessions in the history checker.)
 */
export async function copyIn(client: ClientBase, sql: string, text: string): Promise<void> {
  const stream = client.query(copyFrom(sql));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  done.catch(() => undefined);
  // Encoded whole first: slicing the string could cut a character in two.
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += CHUNK) {
    if (!stream.write(bytes.subarray(i, i + CHUNK))) await Promise.race([new Promise((r) => stream.once('drain', r)), done]);
  }
  stream.end();
  await done;
}
