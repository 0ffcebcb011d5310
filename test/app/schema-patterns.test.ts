import { RegExpParser } from '@eslint-community/regexpp';
import { analyse } from 'scslre';
import { functionTable } from '../../functions/table';
import type { RouteDoc } from '../../src/app/http/openapi-registry';
import { openApiDocumentOf } from '../../functions/http/openapi';
import { directoryCommandSchema } from '../../src/domain/directory/directory-commands';

/*
 * Every regular expression the API's schemas run on input, checked for super-linear backtracking by
 * static analysis (scslre, the analysis behind eslint-plugin-regexp's no-super-linear-backtracking):
 * exponential or polynomial backtracking, and super-linear moves of an unanchored pattern.
 */

/** The RegExps reachable from a zod schema's definition: its checks, its fields, its items, its options. */
function patternsOf(root: unknown): RegExp[] {
  const found = new Set<RegExp>();
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (value instanceof RegExp) {
      found.add(value);
      return;
    }
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const zod = (value as { _zod?: { def?: unknown } })._zod;
    if (zod !== undefined) {
      visit(zod.def);
      return;
    }
    for (const child of Array.isArray(value) ? value : Object.values(value)) visit(child);
  };
  visit(root);
  return [...found];
}

const docs = functionTable.flatMap((definition) => (definition.kind === 'http' && definition.doc !== undefined ? [definition.doc as RouteDoc] : []));
const fromSchemas = new Map<string, RegExp>();
for (const doc of docs) {
  for (const part of [doc.params, doc.query, doc.body]) for (const pattern of patternsOf(part)) fromSchemas.set(`${pattern.source}/${pattern.flags}`, pattern);
}
for (const pattern of patternsOf(directoryCommandSchema)) fromSchemas.set(`${pattern.source}/${pattern.flags}`, pattern);

// The patterns the published document states, which clients may run too.
const fromDocument = new Set<string>();
JSON.stringify(openApiDocumentOf(functionTable), (key, value: unknown) => {
  if (key === 'pattern' && typeof value === 'string') fromDocument.add(value);
  return value;
});

const parser = new RegExpParser({ ecmaVersion: 2025 });

function superLinear(pattern: RegExp): string[] {
  const { reports } = analyse(parser.parseLiteral(`/${pattern.source}/${pattern.flags}`), { reportTypes: { Move: true, Self: true, Trade: true } });
  return reports.map((report) => `${report.type} backtracking, ${report.exponential ? 'exponential' : 'polynomial'}, over the characters ${report.character.pick}`);
}

describe('regular expressions of the API schemas', () => {
  it('finds the patterns: the phone number, the username, the email, the limit, the domains', () => {
    expect(fromSchemas.size).toBeGreaterThanOrEqual(5);
    expect([...fromDocument].length).toBeGreaterThanOrEqual(3);
  });

  it.each([...fromSchemas.values()].map((pattern) => [pattern.toString(), pattern] as const))('%s backtracks at most linearly', (_source, pattern) => {
    expect(superLinear(pattern)).toEqual([]);
  });

  it.each([...fromDocument].map((source) => [source] as const))('the documented pattern %s backtracks at most linearly', (source) => {
    expect(superLinear(new RegExp(source, 'u'))).toEqual([]);
  });

  it('would catch the phone-number pattern the review found', () => {
    expect(superLinear(/^\+?[0-9 ()./-]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,10})?$/i)).not.toEqual([]);
  });
});
