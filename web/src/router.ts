import { useEffect, useState } from 'preact/hooks';

/** Where the console is: `#/users/<id>?q=...` is `{ segments: ['users', '<id>'], query }`. */
export interface Route {
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
}

function parse(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = text.split('?', 2);
  return { segments: path.split('/').filter((s) => s !== '').map(decodeURIComponent), query: new URLSearchParams(search) };
}

/** A console address: `href('users', id)` or with a query `href('import', { c: id })`. */
export function href(...parts: (string | Record<string, string | undefined>)[]): string {
  const segments = parts.filter((p): p is string => typeof p === 'string').map(encodeURIComponent);
  const query = parts.find((p): p is Record<string, string | undefined> => typeof p !== 'string');
  const search = query === undefined ? '' : new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString();
  return `#/${segments.join('/')}${search === '' ? '' : `?${search}`}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

/** Replaces the query of the current address without a history entry (filters, pages). */
export function replaceQuery(query: Record<string, string | undefined>): void {
  const route = parse(window.location.hash);
  history.replaceState(null, '', href(...route.segments, query));
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parse(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
