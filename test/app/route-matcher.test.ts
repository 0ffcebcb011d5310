import type { HttpFunctionDefinition } from '../../src/app/functions/definition';
import { RouteMatcher } from '../../src/app/host/route-matcher';

function def(name: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string): HttpFunctionDefinition {
  return { kind: 'http', name, route, methods: [method], handler: async () => ({ status: 200 }) };
}

describe('RouteMatcher', () => {
  const matcher = new RouteMatcher([
    def('user-get', 'GET', 'users/{id}'),
    def('user-suspend', 'POST', 'users/{id}/suspend'),
    def('binding-put', 'PUT', 'connections/{id}/users/{userId}'),
    def('m365-users', 'GET', 'connections/{id}/m365/users'),
    def('binding-get', 'GET', 'connections/{id}/users/{userId}'),
    def('openapi', 'GET', 'openapi.json'),
  ]);

  it('extracts decoded parameters', () => {
    const match = matcher.match('PUT', 'connections/c1/users/u%2F1');
    expect(match).toEqual({ kind: 'found', definition: expect.objectContaining({ name: 'binding-put' }), params: { id: 'c1', userId: 'u/1' } });
  });

  it('prefers literal segments over parameters', () => {
    const match = matcher.match('GET', 'connections/c1/m365/users');
    expect(match.kind === 'found' && match.definition.name).toBe('m365-users');
  });

  it('tells a wrong method from an unknown path', () => {
    expect(matcher.match('DELETE', 'users/u1')).toEqual({ kind: 'method_not_allowed', allowed: ['GET'] });
    expect(matcher.match('GET', 'nothing/here')).toEqual({ kind: 'not_found' });
    expect(matcher.match('GET', 'openapiXjson').kind).toBe('not_found');
  });

  it('matches what is left of the path, the empty path included, with a {*rest} route', () => {
    const site = new RouteMatcher([def('console', 'GET', '{*path}')]);
    expect(site.match('GET', '')).toEqual({ kind: 'found', definition: expect.objectContaining({ name: 'console' }), params: { path: '' } });
    expect(site.match('GET', 'assets/index-1.js')).toEqual({ kind: 'found', definition: expect.objectContaining({ name: 'console' }), params: { path: 'assets/index-1.js' } });
    expect(site.match('POST', 'x')).toEqual({ kind: 'method_not_allowed', allowed: ['GET'] });
  });
});
