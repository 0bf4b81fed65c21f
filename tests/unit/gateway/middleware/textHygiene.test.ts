import { hasSuspectEscape } from '../../../../gateway/middleware/textHygiene';
import { SeededRandom } from '../../../../schemas/samples';

/** What the scan replaced: a regular expression over the body copied into a latin1 string. */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

describe('hasSuspectEscape', () => {
  it('finds escaped NULs and surrogates in the bytes, and nothing else', () => {
    expect(hasSuspectEscape(Buffer.from('{"a":"\\u0000"}'))).toBe(true);
    expect(hasSuspectEscape(Buffer.from('{"a":"\\ud83d\\ude00"}'))).toBe(true);
    expect(hasSuspectEscape(Buffer.from('{"a":"\\uDFFF"}'))).toBe(true);
    expect(hasSuspectEscape(Buffer.from('{"a":"\\u00e9 \\u4e2d 长城"}'))).toBe(false);
    expect(hasSuspectEscape(Buffer.from('{"a":"\\u000"}'))).toBe(false);
    expect(hasSuspectEscape(Buffer.from('\\uD7FF \\u'))).toBe(false);
  });

  it('agrees with the regular expression it replaced on random escape soup', () => {
    const random = new SeededRandom(3);
    const alphabet = ['\\', 'u', '0', 'd', 'D', '8', '9', 'a', 'F', 'f', 'g', 'e', '7', '"', '长', ' '];
    for (let n = 0; n < 5000; n++) {
      let text = '';
      const length = 1 + Math.floor(random.next() * 12);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random.next() * alphabet.length)];
      const raw = Buffer.from(text, 'utf8');
      expect([text, hasSuspectEscape(raw)]).toEqual([text, SUSPECT_ESCAPE.test(raw.toString('latin1'))]);
    }
  });
});
