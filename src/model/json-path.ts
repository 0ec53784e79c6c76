/**
 * One spelling of field paths for every report (unreadable documents, limit errors, canonical diffs), so an
 * operator can match them: `messages[2].content`, `metadata.a.b`, and `metadata["a.b"]` when a key is not a
 * plain identifier (a dotted key would otherwise read as nesting).
 */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function keyPath(parent: string, key: string): string {
  const step = IDENTIFIER.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (parent === '') return step.startsWith('[') ? step : key;
  return step.startsWith('[') ? `${parent}${step}` : `${parent}.${step}`;
}

export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}
