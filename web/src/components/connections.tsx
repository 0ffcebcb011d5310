import type { JSX } from 'preact';
import { api, ok } from '../api/client';
import { Field, useLoad } from './ui';

import type { Connection } from '../api/types';
export type { Connection };

/** Every connection (an organisation has a handful; the API pages by 100). */
export async function loadConnections() {
  const items = [];
  let cursor: string | undefined;
  do {
    const page = await ok(api.GET('/api/connections', { params: { query: { limit: 100, ...(cursor === undefined ? {} : { cursor }) } } }));
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return items;
}

export function useConnections(): ReturnType<typeof useLoad<Connection[]>> {
  return useLoad(loadConnections, []);
}

/** Picks the connection a page works on; with one connection it is chosen already. */
export function ConnectionPicker({ connections, value, onChange, only }: { connections: readonly Connection[]; value: string | undefined; onChange: (id: string) => void; only?: (c: Connection) => boolean }): JSX.Element {
  const choices = only === undefined ? connections : connections.filter(only);
  return (
    <Field label="Connection">
      <select value={value ?? ''} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="" disabled>
          Choose a connection
        </option>
        {choices.map((c) => (
          <option value={c.id} key={c.id}>
            {c.name} ({c.status.replace(/_/g, ' ')})
          </option>
        ))}
      </select>
    </Field>
  );
}
