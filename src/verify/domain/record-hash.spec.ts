import fc from 'fast-check';
import { canonical, canonicalHash, canonicalJson } from '../../model/canonical';
import { arbConversation } from '../../model/testing/arbitraries';
import { sampleConversation } from '../../model/testing/fixtures';
import { recordHash, recordJson } from './record-hash';

describe('recordJson', () => {
  it('is canonicalJson, byte for byte', () => {
    fc.assert(
      fc.property(arbConversation(), (c) => {
        const form = canonical(c);
        expect(recordJson(form)).toBe(canonicalJson(form));
      }),
      { numRuns: 300 },
    );
  });

  it('orders integer-like, unicode and prototype-named metadata keys like canonicalJson', () => {
    const metadata = JSON.parse('{"10":1,"9":2,"b":{"é":1,"e":2,"__proto__":{"z":[1,{"y":null}]}},"a":-0,"constructor":"x"}');
    const form = canonical(sampleConversation({ metadata, title: null, deleted: true }));
    expect(recordJson(form)).toBe(canonicalJson(form));
    expect(recordHash(form)).toBe(canonicalHash(form));
  });
});
