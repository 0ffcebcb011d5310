/**
 * The OData query options the sandbox honours: `$filter` (eq, in, startswith, and, or; string
 * literals quoted with '' as the escaped quote, OData 4.01 section 5.1.1.6.1), `$select`, `$top`.
 */
export type FilterNode =
  | { readonly kind: 'eq'; readonly property: string; readonly value: unknown }
  | { readonly kind: 'in'; readonly property: string; readonly values: readonly unknown[] }
  | { readonly kind: 'startswith'; readonly property: string; readonly value: string }
  | { readonly kind: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode };

/** A query option Graph refuses; `code` and `message` are Graph's. */
export class ODataQueryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ODataQueryError';
  }
}

type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'punct'; text: '(' | ')' | ',' };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] ?? '';
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c });
      i += 1;
    } else if (c === "'") {
      let text = '';
      i += 1;
      for (;;) {
        if (i >= input.length) throw invalidFilter(input);
        const ch = input[i] ?? '';
        if (ch === "'") {
          if (input[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        text += ch;
        i += 1;
      }
      tokens.push({ kind: 'string', text });
    } else {
      let text = '';
      while (i < input.length && !/[\s(),']/.test(input[i] ?? '')) {
        text += input[i];
        i += 1;
      }
      tokens.push({ kind: 'word', text });
    }
  }
  return tokens;
}

function invalidFilter(input: string): ODataQueryError {
  return new ODataQueryError(400, 'BadRequest', `Invalid filter clause: syntax error in '${input}'.`);
}

/** Parses `$filter`; `filterable` names the properties that may appear, `resource` is e.g. 'User'. */
export function parseFilter(input: string, filterable: ReadonlySet<string>, resource: string): FilterNode {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const next = (): Token => {
    const token = tokens[pos];
    if (!token) throw invalidFilter(input);
    pos += 1;
    return token;
  };
  const expectPunct = (text: string): void => {
    const token = next();
    if (token.kind !== 'punct' || token.text !== text) throw invalidFilter(input);
  };
  const property = (): string => {
    const token = next();
    if (token.kind !== 'word') throw invalidFilter(input);
    if (!filterable.has(token.text)) {
      throw new ODataQueryError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${token.text}' of resource '${resource}'.`);
    }
    return token.text;
  };
  const literal = (): unknown => {
    const token = next();
    if (token.kind === 'string') return token.text;
    if (token.kind !== 'word') throw invalidFilter(input);
    if (token.text === 'true') return true;
    if (token.text === 'false') return false;
    if (token.text === 'null') return null;
    if (/^-?\d+(\.\d+)?$/.test(token.text)) return Number(token.text);
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(token.text)) return token.text;
    throw invalidFilter(input);
  };
  const primary = (): FilterNode => {
    const token = peek();
    if (!token) throw invalidFilter(input);
    if (token.kind === 'punct' && token.text === '(') {
      next();
      const inner = orExpr();
      expectPunct(')');
      return inner;
    }
    if (token.kind === 'word' && token.text.toLowerCase() === 'startswith') {
      next();
      expectPunct('(');
      const prop = property();
      expectPunct(',');
      const value = literal();
      expectPunct(')');
      if (typeof value !== 'string') throw invalidFilter(input);
      return { kind: 'startswith', property: prop, value };
    }
    if (token.kind === 'word' && token.text.toLowerCase() === 'not') {
      throw new ODataQueryError(400, 'Request_UnsupportedQuery', 'Unsupported Query.');
    }
    const prop = property();
    const op = next();
    if (op.kind !== 'word') throw invalidFilter(input);
    const operator = op.text.toLowerCase();
    if (operator === 'eq') return { kind: 'eq', property: prop, value: literal() };
    if (operator === 'in') {
      expectPunct('(');
      const values = [literal()];
      while (peek()?.kind === 'punct' && peek()?.text === ',') {
        next();
        values.push(literal());
      }
      expectPunct(')');
      return { kind: 'in', property: prop, values };
    }
    if (['ne', 'gt', 'ge', 'lt', 'le', 'endswith'].includes(operator)) {
      throw new ODataQueryError(400, 'Request_UnsupportedQuery', 'Unsupported Query.');
    }
    throw invalidFilter(input);
  };
  const andExpr = (): FilterNode => {
    let left = primary();
    while (peek()?.kind === 'word' && peek()?.text.toLowerCase() === 'and') {
      next();
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const orExpr = (): FilterNode => {
    let left = andExpr();
    while (peek()?.kind === 'word' && peek()?.text.toLowerCase() === 'or') {
      next();
      left = { kind: 'or', left, right: andExpr() };
    }
    return left;
  };
  const tree = orExpr();
  if (pos !== tokens.length) throw invalidFilter(input);
  return tree;
}

function same(actual: unknown, expected: unknown): boolean {
  if (typeof actual === 'string' && typeof expected === 'string') return actual.toLowerCase() === expected.toLowerCase();
  return actual === expected;
}

export function matchesFilter(node: FilterNode, read: (property: string) => unknown): boolean {
  switch (node.kind) {
    case 'eq':
      return same(read(node.property), node.value);
    case 'in': {
      const actual = read(node.property);
      return node.values.some((v) => same(actual, v));
    }
    case 'startswith': {
      const actual = read(node.property);
      return typeof actual === 'string' && actual.toLowerCase().startsWith(node.value.toLowerCase());
    }
    case 'and':
      return matchesFilter(node.left, read) && matchesFilter(node.right, read);
    case 'or':
      return matchesFilter(node.left, read) || matchesFilter(node.right, read);
  }
}

/**
 * Values an indexed property must take for the filter to match, when the filter pins one
 * (`userPrincipalName eq 'x'`, `id in (...)`, or such a clause under `and`); lets lookups skip a scan.
 */
export function pinnedValues(node: FilterNode, indexed: ReadonlySet<string>): { property: string; values: unknown[] } | undefined {
  if (node.kind === 'eq' && indexed.has(node.property)) return { property: node.property, values: [node.value] };
  if (node.kind === 'in' && indexed.has(node.property)) return { property: node.property, values: [...node.values] };
  if (node.kind === 'and') return pinnedValues(node.left, indexed) ?? pinnedValues(node.right, indexed);
  return undefined;
}

/** Parses `$select` against the properties a type has; Graph names the first unknown one. */
export function parseSelect(input: string | null, known: ReadonlySet<string>, type: string): string[] | undefined {
  if (input === null || input.trim() === '') return undefined;
  const names = input.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    if (!known.has(name)) throw new ODataQueryError(400, 'BadRequest', `Could not find a property named '${name}' on type '${type}'.`);
  }
  return names;
}

/**
 * `$expand` on users: only `manager`, optionally with its own `$select` of user properties
 * (`manager($select=id)`), which is what the sandbox models. Undefined when absent.
 */
export function parseUserExpand(input: string | null, known: ReadonlySet<string>): { readonly select: string[] | undefined } | undefined {
  if (input === null || input.trim() === '') return undefined;
  const match = /^manager(?:\(\$select=([^)]*)\))?$/.exec(input.trim());
  if (!match) throw new ODataQueryError(400, 'BadRequest', `Parsing OData Select and Expand failed: Could not find a property named '${input.trim()}' on type 'microsoft.graph.user'.`);
  return { select: parseSelect(match[1] ?? null, known, 'microsoft.graph.user') };
}

/** `$top` for directory collections: 1 to 999 (Graph's page size limit for users and groups). */
export function parseTop(input: string | null, fallback: number): number {
  if (input === null) return fallback;
  const top = Number(input);
  if (!Number.isInteger(top) || top < 1 || top > 999) {
    throw new ODataQueryError(400, 'Request_BadRequest', `Invalid page size specified: '${input}'. Must be between 1 and 999 inclusive.`);
  }
  return top;
}
