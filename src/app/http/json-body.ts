import { ApiError } from '../../domain/errors';

/** Bodies larger than this are refused with 413 before they are parsed. */
export const maxBodyBytes = 256 * 1024;

/** No schema of the API nests this deep; deeper bodies are refused before any schema walks them. */
export const maxBodyDepth = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });

// With the u flag a well-formed pair is one code point, so only a lone surrogate matches.
const loneSurrogate = /\p{Cs}/u;

function refuse(code: 'VALIDATION_FAILED' | 'UNSUPPORTED_MEDIA_TYPE' | 'PAYLOAD_TOO_LARGE', field: string, problem: string): ApiError {
  return new ApiError(code, `${field}: ${problem}`, [{ field, message: problem }]);
}

/** `application/json`, with no charset or `charset=utf-8`: the only body the API reads. */
function checkContentType(contentType: string | undefined): void {
  const [type = '', ...parameters] = (contentType ?? '').split(';');
  const charset = parameters.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('charset='));
  const charsetOk = charset === undefined || ['utf-8', '"utf-8"', 'utf8'].includes(charset.slice('charset='.length));
  if (type.trim().toLowerCase() !== 'application/json' || !charsetOk) {
    throw refuse('UNSUPPORTED_MEDIA_TYPE', 'headers.content-type', 'must be application/json in UTF-8 (charset=utf-8 or none)');
  }
}

/**
 * Walks JSON text that JSON.parse accepted and refuses what JSON.parse lets through: a key twice in
 * one object (JSON.parse keeps the last, so `{"role":"reader","role":"admin"}` would read as admin),
 * strings with lone surrogates (not Unicode, so not storable or sendable), and deep nesting.
 */
class JsonShapeCheck {
  private at = 0;

  constructor(private readonly text: string) {}

  run(): void {
    this.value(0, 'body');
  }

  private skipSpace(): void {
    while (this.at < this.text.length && ' \t\n\r'.includes(this.text[this.at] as string)) this.at += 1;
  }

  private string(field: string): string {
    const start = this.at;
    let end = start + 1;
    while (this.text[end] !== '"') end += this.text[end] === '\\' ? 2 : 1;
    this.at = end + 1;
    const raw = this.text.slice(start, end + 1);
    const value = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    if (loneSurrogate.test(value)) throw refuse('VALIDATION_FAILED', field, 'contains a lone surrogate (text must be valid Unicode)');
    return value;
  }

  private value(depth: number, field: string): void {
    this.skipSpace();
    const c = this.text[this.at];
    if (c === '"') {
      this.string(field);
      return;
    }
    if (c !== '{' && c !== '[') {
      while (this.at < this.text.length && !',]} \t\n\r'.includes(this.text[this.at] as string)) this.at += 1;
      return;
    }
    if (depth >= maxBodyDepth) throw refuse('VALIDATION_FAILED', field, `nested deeper than ${maxBodyDepth} levels`);
    this.at += 1;
    const close = c === '{' ? '}' : ']';
    const keys = new Set<string>();
    for (let index = 0; ; index += 1) {
      this.skipSpace();
      if (this.text[this.at] === close) break;
      let child = `${field}.${index}`;
      if (c === '{') {
        const key = this.string(`${field}.${index}`);
        child = `${field}.${key}`;
        if (keys.has(key)) throw refuse('VALIDATION_FAILED', child, 'appears twice in one object');
        keys.add(key);
        this.skipSpace();
        this.at += 1; // the colon
      }
      this.value(depth + 1, child);
      this.skipSpace();
      if (this.text[this.at] === ',') this.at += 1;
    }
    this.at += 1;
  }
}

/** Refuses a body whose declared Content-Length is already too large, before a byte of it is read. */
export function checkDeclaredLength(contentLength: string | undefined): void {
  const declared = Number(contentLength ?? '0');
  if (Number.isFinite(declared) && declared > maxBodyBytes) throw refuse('PAYLOAD_TOO_LARGE', 'body', `request body exceeds ${maxBodyBytes} bytes`);
}

/**
 * Reads a JSON request body strictly: at most `maxBodyBytes`, `application/json` in UTF-8 (invalid
 * UTF-8 is refused, not replaced), well-formed, no duplicate keys, no lone surrogates, bounded
 * nesting. An empty body reads as undefined. Every refusal is an ApiError naming what is wrong.
 */
export function parseJsonBody(bytes: Uint8Array, contentType: string | undefined): unknown {
  checkDeclaredLength(String(bytes.byteLength));
  if (bytes.byteLength === 0) return undefined;
  checkContentType(contentType);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw refuse('VALIDATION_FAILED', 'body', 'not valid UTF-8');
  }
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError('VALIDATION_FAILED', `body: malformed JSON (${(error as Error).message})`, [{ field: 'body', message: 'malformed JSON' }]);
  }
  new JsonShapeCheck(text).run();
  return value;
}
