/** worker/bundle.ts `asciiOnly`: the workflow bundle as ASCII, meaning the same JavaScript. */
import { describe, expect, it } from 'vitest';
import { asciiOnly } from '../../worker/bundle';

const evaluate = (source: string): unknown => new Function(`return ${source};`)() as unknown;

describe('asciiOnly', () => {
  it.each([
    ["'IMT MAY HOLD it — retry …'"],
    ['`**${"posted"}** · cycle ${2022} → ${[1, 2].join(" – ")}`'],
    ['/a—b/.test("a—b") && "ø≈😀".length'],
    ['"😀 " + `${"x"} 😀` // a comment — with a dash'],
  ])('%s evaluates to the same value, written in ASCII', (source) => {
    const ascii = asciiOnly(source);
    expect(ascii).toMatch(/^[\x20-\x7e]*$/);
    expect(evaluate(ascii)).toEqual(evaluate(source));
  });

  it('leaves ASCII source unchanged', () => {
    const source = 'export const a = `x ${1}`; // ok\n';
    expect(asciiOnly(source)).toBe(source);
  });
});
