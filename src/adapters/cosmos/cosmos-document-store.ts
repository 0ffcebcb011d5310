import type { Agent } from 'node:http';
import { CosmosClient, PartitionKeyDefinitionVersion } from '@azure/cosmos';
import type { Container, CosmosClientOptions, Database, ItemDefinition, RequestOptions, SqlParameter } from '@azure/cosmos';
import { systemClock } from '../../domain/ports/clock';
import type { Clock } from '../../domain/ports/clock';
import { containerNames } from '../../domain/ports/document-store';
import type {
  Condition,
  ContainerName,
  CreateFailure,
  DeleteFailure,
  DeleteOptions,
  DocumentStore,
  QueryPage,
  QuerySpec,
  ReplaceFailure,
  ReplaceOptions,
  Scalar,
  StoredDocument,
  WriteOptions,
} from '../../domain/ports/document-store';
import { err, ok } from '../../domain/result';
import type { Result } from '../../domain/result';
import {
  checkContainer,
  checkKey,
  checkQuerySpec,
  decodeCursor,
  encodeCursor,
  expiresAtMs,
  fieldSegments,
  sortValueAt,
} from '../document-store/contract-rules';
import type { SortValue } from '../document-store/contract-rules';

/** A Microsoft Entra credential, as the Cosmos DB client takes it (DefaultAzureCredential in Azure). */
export type CosmosTokenCredential = NonNullable<CosmosClientOptions['aadCredentials']>;

export interface CosmosDocumentStoreOptions {
  /** Account endpoint, e.g. `https://<account>.documents.azure.com`. */
  readonly endpoint: string;
  /** Database id; it and its containers are created when missing (with key auth: Entra data-plane roles cannot create them). */
  readonly database: string;
  /** Microsoft Entra authentication; exactly one of `credential` and `key`. */
  readonly credential?: CosmosTokenCredential;
  /** Account key authentication, for emulators and test servers. */
  readonly key?: string;
  /** HTTP(S) agent for the connection, e.g. one that trusts a test server's certificate. */
  readonly agent?: Agent;
  readonly clock?: Clock;
}

/** The stored shape: the caller's data under `data`, so its fields never collide with Cosmos DB's own. */
interface Item extends ItemDefinition {
  readonly id: string;
  readonly pk: string;
  readonly data: unknown;
  /** Epoch ms; reads filter on it because Cosmos DB's TTL deletion runs in the background, late. */
  readonly expiresAt?: number;
  /** Seconds; Cosmos DB's own per-item TTL that eventually deletes the item. */
  readonly ttl?: number;
  readonly _etag?: string;
}

/** Optimistic retries for a write that races another writer of the same document. */
const maxWriteAttempts = 5;
/** Ids per getMany query; keeps the query text and its parameter list well inside Cosmos DB's limits. */
const getManyChunk = 256;

/** Thrown when a write keeps losing races to other writers of the same document. */
export class DocumentStoreContentionError extends Error {
  readonly code = 'DOCUMENT_STORE_CONTENTION' as const;

  constructor(message: string) {
    super(message);
    this.name = 'DocumentStoreContentionError';
  }
}

/**
 * The Azure DocumentStore: one Cosmos DB container per ContainerName, partition key path `/pk`,
 * default TTL -1 so per-item `ttl` applies. Ensures database and containers exist before returning.
 */
export async function createCosmosDocumentStore(options: CosmosDocumentStoreOptions): Promise<DocumentStore> {
  if ((options.credential === undefined) === (options.key === undefined)) {
    throw new TypeError('Cosmos DB needs exactly one of credential and key.');
  }
  const client = new CosmosClient({
    endpoint: options.endpoint,
    ...(options.credential === undefined ? { key: options.key } : { aadCredentials: options.credential }),
    ...(options.agent === undefined ? {} : { agent: options.agent }),
  });
  try {
    const database = await ensureDatabase(client, options.database);
    const entries = await Promise.all(containerNames.map(async (name) => [name, await ensureContainer(database, name)] as const));
    return new CosmosDocumentStore(client, new Map(entries), options.clock ?? systemClock);
  } catch (error) {
    client.dispose();
    throw error;
  }
}

/*
 * Existing resources are read before anything is created: with Entra authentication the data plane
 * may read metadata but not create databases or containers, which the infrastructure deploys instead.
 */
async function ensureDatabase(client: CosmosClient, id: string): Promise<Database> {
  try {
    await client.database(id).read();
    return client.database(id);
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
    return (await client.databases.createIfNotExists({ id })).database;
  }
}

async function ensureContainer(database: Database, id: ContainerName): Promise<Container> {
  let paths: readonly string[] | undefined;
  try {
    paths = (await database.container(id).read()).resource?.partitionKey?.paths;
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
    const created = await database.containers.createIfNotExists({
      id,
      partitionKey: { paths: ['/pk'], version: PartitionKeyDefinitionVersion.V2 },
      defaultTtl: -1,
    });
    return created.container;
  }
  if (paths === undefined || paths.length !== 1 || paths[0] !== '/pk') {
    throw new Error(`Cosmos DB container "${id}" exists with partition key ${JSON.stringify(paths)}; expected ["/pk"].`);
  }
  return database.container(id);
}

class CosmosDocumentStore implements DocumentStore {
  constructor(
    private readonly client: CosmosClient,
    private readonly containers: ReadonlyMap<ContainerName, Container>,
    private readonly clock: Clock,
  ) {}

  async get<T>(container: ContainerName, pk: string, id: string): Promise<StoredDocument<T> | undefined> {
    const item = await this.readLive(container, pk, id, this.nowMs());
    return item === undefined ? undefined : toDocument<T>(item);
  }

  async getMany<T>(container: ContainerName, pk: string, ids: readonly string[]): Promise<StoredDocument<T>[]> {
    checkContainer(container);
    ids.forEach((id) => checkKey(pk, id));
    const wanted = [...new Set(ids)];
    const found = new Map<string, Item>();
    for (let start = 0; start < wanted.length; start += getManyChunk) {
      const sql = new CosmosSql();
      const chunk = wanted.slice(start, start + getManyChunk).map(toCosmosId);
      const text = `SELECT * FROM c WHERE c.pk = ${sql.bind(pk)} AND ARRAY_CONTAINS(${sql.bind(chunk)}, c.id) AND ${liveTerm(this.nowMs(), sql)}`;
      for (const item of await this.run(container, text, sql, pk)) found.set(item.id, item);
    }
    return wanted.flatMap((id) => {
      const item = found.get(toCosmosId(id));
      return item === undefined ? [] : [toDocument<T>(item)];
    });
  }

  async create<T>(container: ContainerName, pk: string, id: string, data: T, options?: WriteOptions): Promise<Result<StoredDocument<T>, CreateFailure>> {
    checkContainer(container);
    checkKey(pk, id);
    const target = this.containerOf(container);
    for (let attempt = 0; attempt < maxWriteAttempts; attempt += 1) {
      const now = this.nowMs();
      const item = toItem(pk, id, data, options, now);
      try {
        return ok(written(await target.items.create<Item>(item), item, data));
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
      // The conflicting item may have expired without Cosmos DB having deleted it yet: take its place,
      // conditionally, so that of two racing creates only one wins.
      const existing = await this.readRaw(container, pk, id);
      if (existing === undefined) continue;
      if (isLive(existing, now)) return err('conflict');
      try {
        return ok(written(await target.item(item.id, pk).replace<Item>(item, ifMatch(existing._etag)), item, data));
      } catch (error) {
        const status = statusOf(error);
        if (status !== 412 && status !== 404) throw error;
      }
    }
    throw new DocumentStoreContentionError(`create of ${container}/${id} kept racing other writers.`);
  }

  async replace<T>(container: ContainerName, pk: string, id: string, data: T, options?: ReplaceOptions): Promise<Result<StoredDocument<T>, ReplaceFailure>> {
    checkContainer(container);
    checkKey(pk, id);
    const target = this.containerOf(container);
    for (let attempt = 0; attempt < maxWriteAttempts; attempt += 1) {
      const now = this.nowMs();
      // Read first: an expired item that Cosmos DB has not deleted yet must count as missing.
      const existing = await this.readLive(container, pk, id, now);
      if (existing === undefined) return err('not_found');
      if (options?.ifMatch !== undefined && existing._etag !== options.ifMatch) return err('precondition_failed');
      const item = toItem(pk, id, data, options, now);
      try {
        return ok(written(await target.item(item.id, pk).replace<Item>(item, ifMatch(existing._etag)), item, data));
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return err('not_found');
        if (status !== 412) throw error;
        if (options?.ifMatch !== undefined) return err('precondition_failed');
      }
    }
    throw new DocumentStoreContentionError(`replace of ${container}/${id} kept racing other writers.`);
  }

  async upsert<T>(container: ContainerName, pk: string, id: string, data: T, options?: WriteOptions): Promise<StoredDocument<T>> {
    checkContainer(container);
    checkKey(pk, id);
    const item = toItem(pk, id, data, options, this.nowMs());
    return written(await this.containerOf(container).items.upsert<Item>(item), item, data);
  }

  async delete(container: ContainerName, pk: string, id: string, options?: DeleteOptions): Promise<Result<void, DeleteFailure>> {
    checkContainer(container);
    checkKey(pk, id);
    for (let attempt = 0; attempt < maxWriteAttempts; attempt += 1) {
      const existing = await this.readLive(container, pk, id, this.nowMs());
      if (existing === undefined) return err('not_found');
      if (options?.ifMatch !== undefined && existing._etag !== options.ifMatch) return err('precondition_failed');
      try {
        await this.containerOf(container).item(existing.id, pk).delete(ifMatch(existing._etag));
        return ok(undefined);
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return err('not_found');
        if (status !== 412) throw error;
        if (options?.ifMatch !== undefined) return err('precondition_failed');
      }
    }
    throw new DocumentStoreContentionError(`delete of ${container}/${id} kept racing other writers.`);
  }

  /*
   * Keyset paging without composite indexes. Cosmos DB serves ORDER BY on one property from its
   * default range index, but ORDER BY on several (field, id, pk) would need a composite index per
   * sort field. So a page is assembled from single-property ORDER BY queries (see `ordered`).
   */
  async query<T>(container: ContainerName, spec: QuerySpec): Promise<QueryPage<T>> {
    checkContainer(container);
    checkQuerySpec(spec, true);
    const keys = orderKeys(spec);
    const wanted = spec.limit + 1;
    let items: Item[];
    if (spec.cursor === undefined) {
      items = await this.ordered(container, spec, keys, [], undefined, wanted);
    } else {
      const position = decodeCursor(spec, spec.cursor);
      const values: SortValue[] = [
        ...(position.value === undefined ? [] : [position.value]),
        toCosmosId(position.id),
        ...(position.pk === undefined ? [] : [position.pk]),
      ];
      // After (v, i, p): the rest of the (v, i) group by pk, then the rest of the v group by id, then values beyond v.
      items = [];
      for (let depth = keys.length - 1; depth >= 0 && items.length < wanted; depth -= 1) {
        items.push(...(await this.ordered(container, spec, keys, values.slice(0, depth), values[depth], wanted - items.length)));
      }
    }
    const page = items.slice(0, spec.limit).map((item) => toDocument<T>(item));
    const last = page[page.length - 1];
    return items.length > spec.limit && last !== undefined ? { items: page, nextCursor: encodeCursor(spec, last) } : { items: page };
  }

  async count(container: ContainerName, spec: Omit<QuerySpec, 'limit' | 'cursor' | 'orderBy'>): Promise<number> {
    checkContainer(container);
    checkQuerySpec(spec, false);
    const sql = new CosmosSql();
    const where = this.filter(spec, sql);
    const [count] = await this.run<number>(container, `SELECT VALUE COUNT(1) FROM c WHERE ${where.join(' AND ')}`, sql, spec.pk);
    return count ?? 0;
  }

  async ping(): Promise<void> {
    await this.client.getDatabaseAccount();
  }

  async close(): Promise<void> {
    this.client.dispose();
  }

  /**
   * The first `top` matching items in key order among those whose first keys equal `prefix` and
   * whose next key lies beyond `after`. One query orders by that next key; runs of equal values are
   * ordered by the remaining keys here, except the last run, which may be cut off by TOP and so is
   * read again, completely ordered, one key deeper.
   */
  private async ordered(
    container: ContainerName,
    spec: QuerySpec,
    keys: readonly OrderKey[],
    prefix: readonly SortValue[],
    after: SortValue | undefined,
    top: number,
  ): Promise<Item[]> {
    const depth = prefix.length;
    const key = keys[depth];
    if (key === undefined) throw new Error('No order key left to page by.');
    const ascending = spec.orderBy?.direction !== 'desc';
    const sql = new CosmosSql();
    const where = this.filter(spec, sql);
    prefix.forEach((value, index) => where.push(typedEquals((keys[index] as OrderKey).ref, value, sql)));
    if (key.mixedTypes) where.push(`(IS_STRING(${key.ref}) OR IS_NUMBER(${key.ref}))`);
    if (after !== undefined) where.push(beyond(key, after, ascending, sql));
    const text = `SELECT TOP ${sql.bind(top)} * FROM c WHERE ${where.join(' AND ')} ORDER BY ${key.ref} ${ascending ? 'ASC' : 'DESC'}`;
    const items = await this.run(container, text, sql, spec.pk);
    const rest = keys.slice(depth + 1);
    if (rest.length === 0) return items;
    if (items.length < top) return sortRuns(items, key, rest, ascending);
    const boundary = key.valueOf(items[items.length - 1] as Item);
    const complete = items.filter((item) => key.valueOf(item) !== boundary);
    return [...sortRuns(complete, key, rest, ascending), ...(await this.ordered(container, spec, keys, [...prefix, boundary], undefined, top - complete.length))];
  }

  /** The WHERE terms shared by query and count. */
  private filter(spec: Pick<QuerySpec, 'pk' | 'where'>, sql: CosmosSql): string[] {
    const where = [liveTerm(this.nowMs(), sql)];
    if (spec.pk !== undefined) where.push(`c.pk = ${sql.bind(spec.pk)}`);
    for (const condition of spec.where ?? []) where.push(conditionSql(condition, sql));
    return where;
  }

  private async run<R = Item>(container: ContainerName, query: string, sql: CosmosSql, pk: string | undefined): Promise<R[]> {
    const iterator = this.containerOf(container).items.query<R>({ query, parameters: sql.parameters }, pk === undefined ? {} : { partitionKey: pk });
    return (await iterator.fetchAll()).resources;
  }

  private async readLive(container: ContainerName, pk: string, id: string, nowMs: number): Promise<Item | undefined> {
    checkContainer(container);
    checkKey(pk, id);
    const item = await this.readRaw(container, pk, id);
    return item !== undefined && isLive(item, nowMs) ? item : undefined;
  }

  private async readRaw(container: ContainerName, pk: string, id: string): Promise<Item | undefined> {
    try {
      const response = await this.containerOf(container).item(toCosmosId(id), pk).read<Item>();
      return response.statusCode === 404 ? undefined : response.resource;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private containerOf(container: ContainerName): Container {
    const target = this.containers.get(container);
    if (target === undefined) throw new TypeError(`Unknown container "${String(container)}".`);
    return target;
  }

  private nowMs(): number {
    return this.clock.now().getTime();
  }
}

/** Named query parameters collected while the query text is assembled. */
class CosmosSql {
  readonly parameters: SqlParameter[] = [];

  bind(value: SqlParameter['value']): string {
    const name = `@p${this.parameters.length}`;
    this.parameters.push({ name, value });
    return name;
  }
}

function liveTerm(nowMs: number, sql: CosmosSql): string {
  return `(NOT IS_DEFINED(c.expiresAt) OR c.expiresAt > ${sql.bind(nowMs)})`;
}

/** Bracket notation, so field names that are SQL keywords (`value`, `order`) still work. */
function fieldRef(segments: readonly string[]): string {
  return `c.data${segments.map((segment) => `[${JSON.stringify(segment)}]`).join('')}`;
}

function conditionSql(condition: Condition, sql: CosmosSql): string {
  if (condition.op === 'contains') {
    const needle = sql.bind(condition.value.toLowerCase());
    const terms = condition.fields.map((field) => `CONTAINS(LOWER(${fieldRef(fieldSegments(field))}), ${needle})`);
    return `(${terms.join(' OR ')})`;
  }
  const field = fieldRef(fieldSegments(condition.field));
  switch (condition.op) {
    case 'exists':
      return condition.value ? `IS_DEFINED(${field})` : `NOT IS_DEFINED(${field})`;
    case 'eq':
      return typedEquals(field, condition.value, sql);
    case 'ne':
      return `(IS_DEFINED(${field}) AND NOT ${typedEquals(field, condition.value, sql)})`;
    case 'in':
      return condition.values.length === 0 ? 'false' : `${field} IN (${condition.values.map((value) => sql.bind(value)).join(', ')})`;
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      const operator = { lt: '<', le: '<=', gt: '>', ge: '>=' }[condition.op];
      const value = condition.value;
      if (value === null) throw new TypeError(`"${condition.op}" compares with a string or a number.`);
      return `(${typeTest(field, value)} AND ${field} ${operator} ${sql.bind(value)})`;
    }
  }
}

/*
 * Comparing values of different types yields undefined in Cosmos DB, and NOT undefined is still
 * undefined; testing the type first makes every comparison a plain true or false.
 */
function typedEquals(field: string, value: Scalar, sql: CosmosSql): string {
  if (value === null) return `IS_NULL(${field})`;
  return `(${typeTest(field, value)} AND ${field} = ${sql.bind(value)})`;
}

function typeTest(field: string, value: string | number | boolean): string {
  if (typeof value === 'string') return `IS_STRING(${field})`;
  return typeof value === 'number' ? `IS_NUMBER(${field})` : `IS_BOOL(${field})`;
}

/** One component of a query's order: the sort field (if any), then id, then pk across partitions. */
interface OrderKey {
  readonly ref: string;
  readonly valueOf: (item: Item) => SortValue;
  /** Only a data field can hold numbers as well as strings; id and pk are always strings. */
  readonly mixedTypes: boolean;
}

function orderKeys(spec: QuerySpec): OrderKey[] {
  const keys: OrderKey[] = [];
  if (spec.orderBy !== undefined) {
    const segments = fieldSegments(spec.orderBy.field);
    keys.push({
      ref: fieldRef(segments),
      mixedTypes: true,
      valueOf: (item) => {
        const value = sortValueAt(item.data, segments);
        if (value === undefined) throw new Error('Cosmos DB returned an item without the sort value it was ordered by.');
        return value;
      },
    });
  }
  keys.push({ ref: 'c.id', mixedTypes: false, valueOf: (item) => item.id });
  if (spec.pk === undefined) keys.push({ ref: 'c.pk', mixedTypes: false, valueOf: (item) => item.pk });
  return keys;
}

/** Values strictly after `value` in the sort direction; numbers sort before strings. */
function beyond(key: OrderKey, value: SortValue, ascending: boolean, sql: CosmosSql): string {
  const sameType = `${typeTest(key.ref, value)} AND ${key.ref} ${ascending ? '>' : '<'} ${sql.bind(value)}`;
  const laterTypeFollows = key.mixedTypes && (typeof value === 'number') === ascending;
  return laterTypeFollows ? `((${sameType}) OR ${typeof value === 'number' ? 'IS_STRING' : 'IS_NUMBER'}(${key.ref}))` : `(${sameType})`;
}

/** Orders each run of items with equal `key` by the remaining (string) keys; the runs keep their order. */
function sortRuns(items: readonly Item[], key: OrderKey, rest: readonly OrderKey[], ascending: boolean): Item[] {
  const compare = (a: Item, b: Item): number => {
    for (const next of rest) {
      const left = next.valueOf(a);
      const right = next.valueOf(b);
      if (left !== right) return (left < right) === ascending ? -1 : 1;
    }
    return 0;
  };
  const sorted: Item[] = [];
  let run: Item[] = [];
  for (const item of items) {
    const first = run[0];
    if (first !== undefined && key.valueOf(first) !== key.valueOf(item)) {
      sorted.push(...run.sort(compare));
      run = [];
    }
    run.push(item);
  }
  sorted.push(...run.sort(compare));
  return sorted;
}

/*
 * Cosmos DB ids may not contain / \ ? #. Those (and % itself, so decoding is unambiguous) are
 * percent-escaped; every other id is stored as is.
 */
function toCosmosId(id: string): string {
  return id.replace(/[%/\\?#]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

function fromCosmosId(id: string): string {
  return id.replace(/%([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function toItem(pk: string, id: string, data: unknown, options: WriteOptions | undefined, nowMs: number): Item {
  if (JSON.stringify(data) === undefined) throw new TypeError('Document data must be JSON-serialisable.');
  const expiresAt = expiresAtMs(options, nowMs);
  const item = { id: toCosmosId(id), pk, data };
  // Cosmos DB deletes at its own clock's _ts + ttl; rounding up keeps that from preceding expiresAt.
  return expiresAt === undefined ? item : { ...item, expiresAt, ttl: Math.max(1, Math.ceil((expiresAt - nowMs) / 1000)) };
}

function isLive(item: Item, nowMs: number): boolean {
  return item.expiresAt === undefined || item.expiresAt > nowMs;
}

function ifMatch(etag: string | undefined): RequestOptions {
  if (etag === undefined) throw new Error('Cosmos DB returned an item without an _etag.');
  return { accessCondition: { type: 'IfMatch', condition: etag } };
}

function toDocument<T>(item: Item): StoredDocument<T> {
  if (item._etag === undefined) throw new Error('Cosmos DB returned an item without an _etag.');
  const document = { id: fromCosmosId(item.id), pk: item.pk, etag: item._etag, data: item.data as T };
  return item.expiresAt === undefined ? document : { ...document, expiresAt: item.expiresAt };
}

function written<T>(response: { readonly resource?: Item | undefined; readonly etag?: string }, item: Item, data: T): StoredDocument<T> {
  const etag = response.resource?._etag ?? response.etag;
  if (etag === undefined) throw new Error('Cosmos DB answered a write without an etag.');
  const document = { id: fromCosmosId(item.id), pk: item.pk, etag, data };
  return item.expiresAt === undefined ? document : { ...document, expiresAt: item.expiresAt };
}

/** The HTTP status of a Cosmos DB error; the SDK reports it as a numeric `code`. */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}
