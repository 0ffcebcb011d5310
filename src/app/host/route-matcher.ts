import type { HttpFunctionDefinition } from '../functions/definition';

interface CompiledRoute {
  readonly definition: HttpFunctionDefinition;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
  readonly literalSegments: number;
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly definition: HttpFunctionDefinition; readonly params: Record<string, string> }
  | { readonly kind: 'method_not_allowed'; readonly allowed: readonly string[] }
  /** A parameter whose percent-encoding does not decode (`%zz`, or bytes that are not UTF-8). */
  | { readonly kind: 'bad_parameter'; readonly name: string }
  | { readonly kind: 'not_found' };

function compile(definition: HttpFunctionDefinition): CompiledRoute {
  const paramNames: string[] = [];
  let literalSegments = 0;
  const source = definition.route
    .split('/')
    .map((segment) => {
      const rest = /^\{\*([A-Za-z0-9_]+)\}$/.exec(segment);
      if (rest !== null) {
        paramNames.push(rest[1] as string);
        return '(.*)';
      }
      const param = /^\{([A-Za-z0-9_]+)(?::[^}]*)?\}$/.exec(segment);
      if (param !== null) {
        paramNames.push(param[1] as string);
        return '([^/]+)';
      }
      literalSegments += 1;
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { definition, pattern: new RegExp(`^${source}/?$`, 'i'), paramNames, literalSegments };
}

/** Matches request paths to HTTP functions the way the Functions host does: literal segments win over parameters, `{*rest}` matches what is left. */
export class RouteMatcher {
  private readonly routes: readonly CompiledRoute[];

  constructor(definitions: readonly HttpFunctionDefinition[]) {
    this.routes = definitions.map(compile).sort((a, b) => b.literalSegments - a.literalSegments);
  }

  match(method: string, pathBelowApi: string): RouteMatch {
    const allowed = new Set<string>();
    for (const route of this.routes) {
      const found = route.pattern.exec(pathBelowApi);
      if (found === null) continue;
      if (!route.definition.methods.includes(method as never)) {
        route.definition.methods.forEach((m) => allowed.add(m));
        continue;
      }
      const params: Record<string, string> = {};
      for (const [index, name] of route.paramNames.entries()) {
        try {
          params[name] = decodeURIComponent(found[index + 1] as string);
        } catch {
          return { kind: 'bad_parameter', name };
        }
      }
      return { kind: 'found', definition: route.definition, params };
    }
    return allowed.size > 0 ? { kind: 'method_not_allowed', allowed: [...allowed] } : { kind: 'not_found' };
  }
}
