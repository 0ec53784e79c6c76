/**
 * The assertion every round-trip test makes: equal in canonical form. The diff comes first so a failure names
 * the differing paths instead of printing two large documents.
 */
import { canonical, canonicalJson, diffCanonical } from '../canonical';
import { Conversation } from '../conversation.model';

export function expectSameCanonical(actual: Conversation, expected: Conversation): void {
  expect(diffCanonical(canonical(actual), canonical(expected))).toEqual([]);
  expect(canonicalJson(actual)).toBe(canonicalJson(expected));
}
