import path from 'node:path';
import { readFileSync } from 'node:fs';

export const bicepDir = path.resolve(__dirname, '../../infra/bicep');

/** A .bicep file of infra/bicep with its comments removed (no Bicep compiler can run here). */
export function bicepSource(relativePath: string): string {
  return withoutComments(readFileSync(path.join(bicepDir, relativePath), 'utf8'));
}

function withoutComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') {
        out += c + (text[i + 1] ?? '');
        i += 1;
        continue;
      }
      if (c === "'") inString = false;
      out += c;
    } else if (c === "'") {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2) + 1;
    } else {
      out += c;
    }
  }
  return out;
}

/** The text between the bracket that opens at `open` and its match. */
function enclosed(text: string, open: number): string {
  const pairs: Record<string, string> = { '{': '}', '[': ']' };
  const opener = text[open] as string;
  const closer = pairs[opener];
  if (closer === undefined) throw new Error(`no bracket at ${open}`);
  let depth = 0;
  for (let i = open; i < text.length; i += 1) {
    if (text[i] === opener) depth += 1;
    else if (text[i] === closer) {
      depth -= 1;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  throw new Error('unbalanced brackets');
}

/** The body of the first block (object or array) that follows `marker`. */
export function blockAfter(text: string, marker: string | RegExp): string {
  const at = typeof marker === 'string' ? text.indexOf(marker) : text.search(marker);
  if (at < 0) throw new Error(`${String(marker)} not found`);
  const open = text.slice(at).search(/[[{]/);
  return enclosed(text, at + open);
}

/** `name: value` entries at the top level of an object body, values as written. */
export function topLevelProperties(body: string): Map<string, string> {
  const entries = new Map<string, string>();
  let depth = 0;
  for (const line of body.split('\n')) {
    const trimmed = line.trim();
    if (depth === 0) {
      const match = /^'?([A-Za-z0-9_]+)'?\s*:\s*(.*)$/.exec(trimmed);
      if (match !== null) entries.set(match[1] as string, (match[2] as string).trim());
    }
    for (const c of trimmed.replace(/'(?:\\.|[^'\\])*'/g, '')) {
      if (c === '{' || c === '[') depth += 1;
      else if (c === '}' || c === ']') depth -= 1;
    }
  }
  return entries;
}

/** A Bicep single-quoted string literal's value, or undefined if `value` is an expression or interpolates one. */
export function stringLiteral(value: string): string | undefined {
  const match = /^'((?:\\.|[^'\\])*)'$/.exec(value);
  if (match === null || (match[1] as string).includes('${')) return undefined;
  return (match[1] as string).replace(/\\(.)/g, '$1');
}
