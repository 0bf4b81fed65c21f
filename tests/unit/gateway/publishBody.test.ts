import { assertBodyLimits, decodePublishBody, splitNdjson } from '../../../gateway/publishBody';
import { hasSuspectEscape } from '../../../gateway/middleware/textHygiene';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const limits = { maxDepth: 32, maxRecords: 3 };
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('assertBodyLimits', () => {
  it('counts the elements of the top-level "records" array without parsing, and refuses one too many with 413', () => {
    expect(codeOf(() => assertBodyLimits(bytes('{"records":[{"a":[1,2,3,4,5]},{"b":"x,y,z"},3]}'), limits))).toBeUndefined();
    const four = codeOf(() => assertBodyLimits(bytes('{"records":[{},{},{},{}]}'), limits));
    expect(four).toBe('publish.too_many_records');
    expect(codeOf(() => assertBodyLimits(bytes(`{"records":[${'{},'.repeat(200_000)}{}]}`), limits))).toBe('publish.too_many_records');
  });

  it('counts only the member named records, so another member is left to the body check after parsing', () => {
    expect(codeOf(() => assertBodyLimits(bytes('{"other":[1,2,3,4,5],"records":[1]}'), limits))).toBeUndefined();
    expect(codeOf(() => assertBodyLimits(bytes('{"recordsX":[1,2,3,4,5]}'), limits))).toBeUndefined();
    expect(codeOf(() => assertBodyLimits(bytes('[[1,2,3,4,5]]'), limits))).toBeUndefined();
    expect(codeOf(() => assertBodyLimits(bytes('{"a":"records","b":[1,2,3,4,5]}'), limits))).toBeUndefined();
  });

  it('counts the non-blank lines of NDJSON, strings with commas and braces included', () => {
    expect(codeOf(() => assertBodyLimits(bytes('{"a":"x,{["}\n\n  \n{}\n{}\n'), limits, true))).toBeUndefined();
    expect(codeOf(() => assertBodyLimits(bytes('{}\n{}\n{}\n{}'), limits, true))).toBe('publish.too_many_records');
  });

  it('still refuses deep nesting with 400 request.too_deep, naming the NDJSON line', () => {
    expect(codeOf(() => assertBodyLimits(bytes(`{"records":[${'['.repeat(40)}${']'.repeat(40)}]}`), limits))).toBe('request.too_deep');
    expect(() => assertBodyLimits(bytes(`{}\n${'['.repeat(40)}`), limits, true)).toThrow(/line 2/);
  });
});

describe('splitNdjson', () => {
  it('parses a line at a time, keeping lines that are not JSON verbatim by index', () => {
    const { records, lineErrors, rawLines } = splitNdjson(bytes('{"name":"张三"}\r\n\nnot json\n{"n":1}'));
    expect(records).toEqual([{ name: '张三' }, undefined, { n: 1 }]);
    expect(lineErrors).toEqual([{ index: 1, errors: [{ path: '', message: 'line is not valid JSON', rule: 'json' }] }]);
    expect(rawLines.get(1)).toBe('not json');
  });
});

describe('decodePublishBody', () => {
  it('refuses NUL and lone surrogates escaped in the JSON, and lets other escapes through', () => {
    expect(codeOf(() => decodePublishBody(bytes('{"records":[{"name":"a\\u0000"}]}'), false, limits))).toBe('request.invalid_text');
    expect(codeOf(() => decodePublishBody(bytes('{"records":[{"name":"\\udc00"}]}'), false, limits))).toBe('request.invalid_text');
    expect(decodePublishBody(bytes('{"records":[{"name":"\\u00e9\\ud83d\\ude00"}]}'), false, limits).records).toEqual([{ name: 'é😀' }]);
    expect(codeOf(() => decodePublishBody(Buffer.from([0x7b, 0xff, 0x7d]), false, limits))).toBe('request.invalid_text');
  });
});

describe('hasSuspectEscape', () => {
  it('finds \\u0000 and \\uD800–\\uDFFF escapes in the bytes, in either case', () => {
    expect(hasSuspectEscape(bytes('"\\u0000"'))).toBe(true);
    expect(hasSuspectEscape(bytes('"\\uD83D"'))).toBe(true);
    expect(hasSuspectEscape(bytes('"\\udfff"'))).toBe(true);
    expect(hasSuspectEscape(bytes('"\\u00e9 \\uE000 \\u0001"'))).toBe(false);
    expect(hasSuspectEscape(bytes('"\\u00"'))).toBe(false);
  });
});
