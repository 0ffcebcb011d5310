import { maxBodyBytes, maxBodyDepth, parseJsonBody } from '../../src/app/http/json-body';
import { ApiError } from '../../src/domain/errors';

const json = 'application/json';

function refusal(text: string | Uint8Array, contentType: string | undefined): { code: string; field: string | undefined } {
  try {
    parseJsonBody(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, contentType);
  } catch (error) {
    if (error instanceof ApiError) return { code: error.code, field: error.details?.[0]?.field };
    throw error;
  }
  throw new Error('accepted');
}

describe('parseJsonBody', () => {
  it('reads JSON in UTF-8, with or without a charset, and an empty body as undefined', () => {
    expect(parseJsonBody(Buffer.from('{"a":[1,{"b":"ü😀"}],"c":"\\u00e9"}'), 'Application/JSON; charset="UTF-8"')).toEqual({ a: [1, { b: 'ü😀' }], c: 'é' });
    expect(parseJsonBody(Buffer.from(''), undefined)).toBeUndefined();
    expect(parseJsonBody(Buffer.from(' \n'), json)).toBeUndefined();
  });

  it.each([
    ['a duplicate key', '{"role":"reader","role":"admin"}', 'VALIDATION_FAILED', 'body.role'],
    ['a duplicate key spelt with an escape', '{"role":"reader","rol\\u0065":"admin"}', 'VALIDATION_FAILED', 'body.role'],
    ['a nested duplicate key', '{"phoneNumbers":[{"type":"work","type":"home"}]}', 'VALIDATION_FAILED', 'body.phoneNumbers.0.type'],
    ['a lone high surrogate', '{"name":"\\ud800"}', 'VALIDATION_FAILED', 'body.name'],
    ['a lone low surrogate in a key', '{"\\udc00":1}', 'VALIDATION_FAILED', 'body.0'],
    ['nesting past the bound', `${'['.repeat(maxBodyDepth + 1)}${']'.repeat(maxBodyDepth + 1)}`, 'VALIDATION_FAILED', `body${'.0'.repeat(maxBodyDepth)}`],
    ['malformed JSON', '{"a":', 'VALIDATION_FAILED', 'body'],
    ['an oversize body', `"${'x'.repeat(maxBodyBytes)}"`, 'PAYLOAD_TOO_LARGE', 'body'],
  ])('refuses %s', (_label, text, code, field) => {
    expect(refusal(text, json)).toEqual({ code, field });
  });

  it('accepts a well-formed surrogate pair and nesting at the bound', () => {
    expect(parseJsonBody(Buffer.from('{"a":"\\ud83d\\ude00"}'), json)).toEqual({ a: '😀' });
    expect(() => parseJsonBody(Buffer.from(`${'['.repeat(maxBodyDepth)}${']'.repeat(maxBodyDepth)}`), json)).not.toThrow();
  });

  it('refuses bytes that are not UTF-8, and any other media type or charset', () => {
    expect(refusal(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), json)).toEqual({ code: 'VALIDATION_FAILED', field: 'body' });
    for (const contentType of [undefined, 'application/vnd.evil+json', 'text/json', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'multipart/form-data']) {
      expect(refusal('{}', contentType)).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'headers.content-type' });
    }
  });
});
