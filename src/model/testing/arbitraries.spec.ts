import fc from 'fast-check';
import { checkContent, checkId, checkMetadata, checkTitle, checkUserId } from '../limits';
import { arbConversation, fillToBytes, MAX_DATE_MS, MIN_DATE_MS } from './arbitraries';

/** Depth in containers, the outermost counting as 1 (as the limits count it). */
function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depth));
}

describe('arbConversation', () => {
  it('generates conversations that pass every API limit, with whole-millisecond dates in 1970..2100', () => {
    fc.assert(
      fc.property(arbConversation(), (c) => {
        const errors = [
          ...checkId(c.id),
          ...checkUserId(c.userId),
          ...checkTitle(c.title),
          ...checkMetadata(c.metadata),
          ...c.messages.flatMap((m, i) => checkContent(m.content, `messages[${i}].content`)),
        ];
        expect(errors).toEqual([]);
        for (const d of [c.createdAt, c.updatedAt, ...c.messages.map((m) => m.createdAt)]) {
          expect(Number.isInteger(d.getTime()) && d.getTime() >= MIN_DATE_MS && d.getTime() <= MAX_DATE_MS).toBe(true);
        }
      }),
    );
  });

  it('reaches the maximal sizes and the unicode the round trips must survive', () => {
    const sample = fc.sample(arbConversation(), { numRuns: 300, seed: 42 });
    const titles = sample.map((c) => c.title ?? '');
    const contents = sample.flatMap((c) => c.messages.map((m) => m.content));
    const metadata = sample.map((c) => c.metadata);

    expect(titles.some((t) => Array.from(t).length === 500)).toBe(true);
    expect(contents.some((s) => Buffer.byteLength(s) === 65536)).toBe(true);
    expect(contents.some((s) => s === '')).toBe(true);
    expect(metadata.some((m) => Object.keys(m).length === 0)).toBe(true);
    expect(metadata.some((m) => depth(m) === 8 && Buffer.byteLength(JSON.stringify(m)) > 16000)).toBe(true);
    const text = [...titles, ...contents].join('');
    expect(text).toMatch(/\p{Extended_Pictographic}/u);
    expect(text).toMatch(/\p{Script=Han}/u);
    expect(text).toMatch(/\p{M}/u);
    expect(sample.some((c) => c.title === null)).toBe(true);
  });
});

describe('fillToBytes', () => {
  it.each([0, 1, 2, 3, 1000, 65536])('gives exactly %p UTF-8 bytes', (bytes) => {
    expect(Buffer.byteLength(fillToBytes('é😀中', bytes))).toBe(bytes);
  });
});
