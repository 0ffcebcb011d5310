import { containerNames, decodeCursorPayload, encodeCursorPayload, InvalidCursorError } from '../../domain/ports/document-store';
import type { Condition, ContainerName, FieldPath, QuerySpec, StoredDocument, WriteOptions } from '../../domain/ports/document-store';

/*
 * Rules of the DocumentStore contract that every adapter must apply identically, so that the
 * same call behaves the same on SQLite and on Cosmos DB. Violations are programmer errors (thrown
 * TypeError/RangeError); only a client-supplied cursor gets its own error type.
 */

export type SortValue = string | number;

/**
 * Where the previous page ended: the sort value of its last item (when ordered by a field), its id,
 * and its pk (in a cross-partition query, where ids alone may repeat).
 */
export interface CursorPosition {
  readonly value?: SortValue;
  readonly id: string;
  readonly pk?: string;
}

export const maxPageSize = 1000;

const knownContainers: ReadonlySet<string> = new Set(containerNames);
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkContainer(container: ContainerName): void {
  if (!knownContainers.has(container)) throw new TypeError(`Unknown container "${String(container)}".`);
}

export function checkKey(pk: string, id: string): void {
  if (typeof pk !== 'string' || pk === '') throw new TypeError('A document partition key must be a non-empty string.');
  if (typeof id !== 'string' || id === '') throw new TypeError('A document id must be a non-empty string.');
}

/** Splits a dotted field path into identifier segments; anything else could inject into a query. */
export function fieldSegments(field: FieldPath): readonly string[] {
  const segments = typeof field === 'string' ? field.split('.') : [];
  if (segments.length === 0 || !segments.every((segment) => identifier.test(segment))) {
    throw new TypeError(`Invalid field path "${String(field)}": use dotted identifiers such as "m365.id".`);
  }
  return segments;
}

/** The epoch-ms instant a write with these options expires at, if it has a TTL. */
export function expiresAtMs(options: WriteOptions | undefined, nowMs: number): number | undefined {
  const ttlSeconds = options?.ttlSeconds;
  if (ttlSeconds === undefined) return undefined;
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive number, got ${String(ttlSeconds)}.`);
  }
  return nowMs + Math.round(ttlSeconds * 1000);
}

export function checkQuerySpec(spec: Omit<QuerySpec, 'limit'> & { readonly limit?: number }, withLimit: boolean): void {
  if (spec.pk !== undefined && (typeof spec.pk !== 'string' || spec.pk === '')) {
    throw new TypeError('QuerySpec.pk must be a non-empty string when given.');
  }
  if (withLimit && (!Number.isInteger(spec.limit) || (spec.limit ?? 0) < 1 || (spec.limit ?? 0) > maxPageSize)) {
    throw new RangeError(`QuerySpec.limit must be an integer from 1 to ${maxPageSize}, got ${String(spec.limit)}.`);
  }
  for (const condition of spec.where ?? []) checkCondition(condition);
  if (spec.orderBy !== undefined) {
    fieldSegments(spec.orderBy.field);
    if (spec.orderBy.direction !== 'asc' && spec.orderBy.direction !== 'desc') {
      throw new TypeError(`orderBy.direction must be "asc" or "desc".`);
    }
  }
}

function checkCondition(condition: Condition): void {
  switch (condition.op) {
    case 'eq':
    case 'ne':
      fieldSegments(condition.field);
      checkScalar(condition.value);
      return;
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge':
      fieldSegments(condition.field);
      if (typeof condition.value !== 'string' && !isFiniteNumber(condition.value)) {
        throw new TypeError(`"${condition.op}" compares with a string or a number.`);
      }
      return;
    case 'in':
      fieldSegments(condition.field);
      if (!Array.isArray(condition.values)) throw new TypeError('"in" needs a values array.');
      condition.values.forEach(checkScalar);
      return;
    case 'contains':
      if (!Array.isArray(condition.fields) || condition.fields.length === 0) {
        throw new TypeError('"contains" needs at least one field.');
      }
      condition.fields.forEach(fieldSegments);
      if (typeof condition.value !== 'string') throw new TypeError('"contains" matches a string.');
      return;
    case 'exists':
      fieldSegments(condition.field);
      if (typeof condition.value !== 'boolean') throw new TypeError('"exists" takes true or false.');
      return;
    default:
      throw new TypeError(`Unknown condition op "${String((condition as { op?: unknown }).op)}".`);
  }
}

function checkScalar(value: unknown): void {
  const ok = value === null || typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value);
  if (!ok) throw new TypeError(`A condition value must be a string, finite number, boolean or null.`);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The order a cursor belongs to; a cursor replayed against another order is rejected. */
function orderSignature(spec: Pick<QuerySpec, 'orderBy' | 'pk'>): string {
  const order = spec.orderBy === undefined ? 'id:asc' : `${spec.orderBy.field}:${spec.orderBy.direction}`;
  return `${order}:${spec.pk === undefined ? 'all' : 'one'}`;
}

/** The cursor of the page that ends with `last`. */
export function encodeCursor(spec: Pick<QuerySpec, 'orderBy' | 'pk'>, last: StoredDocument<unknown>): string {
  const value = spec.orderBy === undefined ? undefined : sortValueAt(last.data, fieldSegments(spec.orderBy.field));
  if (spec.orderBy !== undefined && value === undefined) throw new Error('A sorted page ended with a document lacking the sort value.');
  const payload = { o: orderSignature(spec), i: last.id, ...(value === undefined ? {} : { v: value }), ...(spec.pk === undefined ? { p: last.pk } : {}) };
  return encodeCursorPayload(payload);
}

export function decodeCursor(spec: Pick<QuerySpec, 'orderBy' | 'pk'>, cursor: string): CursorPosition {
  const { o, i, v, p } = decodeCursorPayload(cursor);
  const valueOk = spec.orderBy === undefined ? v === undefined : typeof v === 'string' || isFiniteNumber(v);
  const pkOk = spec.pk === undefined ? typeof p === 'string' && p !== '' : p === undefined;
  if (o !== orderSignature(spec) || typeof i !== 'string' || i === '' || !valueOk || !pkOk) throw new InvalidCursorError();
  return { id: i, ...(typeof v === 'string' || typeof v === 'number' ? { value: v } : {}), ...(typeof p === 'string' ? { pk: p } : {}) };
}

/** The sortable value a document holds at `segments`, if any. */
export function sortValueAt(data: unknown, segments: readonly string[]): SortValue | undefined {
  let value: unknown = data;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return typeof value === 'string' || isFiniteNumber(value) ? value : undefined;
}
