/**
 * What the OpenAPI document states about an input must not let through what the validation refuses: clients (and
 * the CI fuzzer, which draws its "valid" requests from the document) would send it and get a 400. For text, the
 * document can state no NUL and not blank (patterns); a lone surrogate is refused too, but no pattern can say so.
 */
import { inputJsonSchema, text } from './schema-kit';

/** Every character below U+3100 except the surrogates, and U+FEFF: each alone and among other characters. */
function samples(): string[] {
  const chars: string[] = [];
  for (let c = 0; c < 0x3100; c++) if (c < 0xd800 || c > 0xdfff) chars.push(String.fromCharCode(c));
  chars.push('\ufeff');
  return chars.flatMap((c) => [c, ` ${c} `, `\t${c}\n`, `a${c}`]);
}

describe('text(): the OpenAPI document states its rules', () => {
  it.each([
    ['text', false],
    ['text that must not be blank', true],
  ])('%s: its pattern accepts exactly what the validation accepts', (_name, notBlank) => {
    const schema = text({ max: 10, notBlank });
    const doc = inputJsonSchema(schema) as { pattern?: string };
    const pattern = new RegExp(doc.pattern!);
    const disagree = samples().filter((s) => pattern.test(s) !== schema.safeParse(s).success);
    expect(disagree).toEqual([]);
  });
});
