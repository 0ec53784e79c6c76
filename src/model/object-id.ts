import { randomBytes } from 'node:crypto';

/**
 * New conversation ids in MongoDB ObjectId layout (4-byte seconds, 5 random bytes, 3-byte counter),
 * as 24 hex characters, so ids made by this service sort with the legacy ones and the backfill's
 * `_id` ranges keep working. Made here rather than by the driver to keep the domain driver-free.
 */
const processUnique = randomBytes(5);
let counter = randomBytes(3).readUIntBE(0, 3);

export function newConversationId(now: Date = new Date()): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(now.getTime() / 1000) >>> 0, 0);
  processUnique.copy(buf, 4);
  counter = (counter + 1) % 0xffffff;
  buf.writeUIntBE(counter, 9, 3);
  return buf.toString('hex');
}
