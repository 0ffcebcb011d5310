import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { systemClock } from '../../domain/ports/clock';
import type { Clock } from '../../domain/ports/clock';
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
} from '../document-store/contract-rules';

/*
 * One table for every container. Data is stored as JSONB so that filters and sort keys
 * (json_extract/json_type) read fields without re-parsing the text of every row.
 */
const schema = `
CREATE TABLE IF NOT EXISTS documents (
  container  TEXT NOT NULL,
  pk         TEXT NOT NULL,
  id         TEXT NOT NULL,
  etag       TEXT NOT NULL,
  data       BLOB NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (container, pk, id)
);
-- Cross-partition pages in id order, and counts that read no document (expires_at is covered).
CREATE INDEX IF NOT EXISTS documents_by_container ON documents (container, id, pk, expires_at);
CREATE INDEX IF NOT EXISTS documents_by_expiry ON documents (expires_at) WHERE expires_at IS NOT NULL;
`;

const live = '(expires_at IS NULL OR expires_at > @now)';
const key = 'container = @container AND pk = @pk AND id = @id';
const columns = 'id, pk, etag, json(data) AS data, expires_at';

/** Expired rows are invisible anyway; deleting them is housekeeping, done at most this often, in bounded batches. */
const purgeIntervalMs = 60_000;
const purgeBatch = 1000;
/** Query shapes are few in practice; the bound only guards against a caller generating SQL without end. */
const maxCachedStatements = 500;
/** FTS5's trigram tokenizer indexes runs of three characters: a shorter needle cannot use it. */
const trigram = 3;
/** A JavaScript function so case folding matches Cosmos DB's LOWER beyond ASCII (SQLite's lower() is ASCII-only). */
const lowerFunction = 'document_store_lower';

interface Row {
  readonly id: string;
  readonly pk: string;
  readonly etag: string;
  readonly data: string;
  readonly expires_at: number | null;
}

/** The embedded DocumentStore: one `documents` table in the shared SQLite database. */
export class SqliteDocumentStore implements DocumentStore {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly sortIndexes = new Set<string>();
  private readonly textIndexes = new Set<string>();
  private lastPurgeMs = Number.NEGATIVE_INFINITY;

  private readonly getStatement: Database.Statement;
  private readonly getManyStatement: Database.Statement;
  private readonly createStatement: Database.Statement;
  private readonly upsertStatement: Database.Statement;
  private readonly replaceStatement: Database.Statement;
  private readonly deleteStatement: Database.Statement;
  private readonly existsStatement: Database.Statement;
  private readonly purgeStatement: Database.Statement;
  private readonly pingStatement: Database.Statement;

  /** The database handle stays the caller's: `close()` leaves it open for the other adapters sharing it. */
  constructor(db: Database.Database, options?: { readonly clock?: Clock }) {
    this.db = db;
    this.clock = options?.clock ?? systemClock;
    db.exec(schema);
    db.function(lowerFunction, { deterministic: true }, (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : null));

    this.getStatement = db.prepare(`SELECT ${columns} FROM documents WHERE ${key} AND ${live}`);
    this.getManyStatement = db.prepare(
      `SELECT ${columns} FROM documents WHERE container = @container AND pk = @pk AND id IN (SELECT value FROM json_each(@ids)) AND ${live}`,
    );
    const insert = 'INSERT INTO documents (container, pk, id, etag, data, expires_at) VALUES (@container, @pk, @id, @etag, jsonb(@data), @expiresAt)';
    const overwrite = 'SET etag = excluded.etag, data = excluded.data, expires_at = excluded.expires_at';
    // An expired row must not block a create; the conditional upsert replaces it in the same atomic statement.
    this.createStatement = db.prepare(
      `${insert} ON CONFLICT (container, pk, id) DO UPDATE ${overwrite} WHERE documents.expires_at IS NOT NULL AND documents.expires_at <= @now`,
    );
    this.upsertStatement = db.prepare(`${insert} ON CONFLICT (container, pk, id) DO UPDATE ${overwrite}`);
    this.replaceStatement = db.prepare(
      `UPDATE documents SET etag = @etag, data = jsonb(@data), expires_at = @expiresAt WHERE ${key} AND ${live} AND (@ifMatch IS NULL OR etag = @ifMatch)`,
    );
    this.deleteStatement = db.prepare(`DELETE FROM documents WHERE ${key} AND ${live} AND (@ifMatch IS NULL OR etag = @ifMatch)`);
    this.existsStatement = db.prepare(`SELECT 1 FROM documents WHERE ${key} AND ${live}`);
    this.purgeStatement = db.prepare(
      `DELETE FROM documents WHERE rowid IN (SELECT rowid FROM documents WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT ${purgeBatch})`,
    );
    this.pingStatement = db.prepare('SELECT 1');
  }

  async get<T>(container: ContainerName, pk: string, id: string): Promise<StoredDocument<T> | undefined> {
    checkContainer(container);
    checkKey(pk, id);
    const row = this.getStatement.get({ container, pk, id, now: this.nowMs() }) as Row | undefined;
    return row === undefined ? undefined : toDocument<T>(row);
  }

  async getMany<T>(container: ContainerName, pk: string, ids: readonly string[]): Promise<StoredDocument<T>[]> {
    checkContainer(container);
    ids.forEach((id) => checkKey(pk, id));
    if (ids.length === 0) return [];
    const rows = this.getManyStatement.all({ container, pk, ids: JSON.stringify(ids), now: this.nowMs() }) as Row[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return [...new Set(ids)].flatMap((id) => {
      const row = byId.get(id);
      return row === undefined ? [] : [toDocument<T>(row)];
    });
  }

  async create<T>(container: ContainerName, pk: string, id: string, data: T, options?: WriteOptions): Promise<Result<StoredDocument<T>, CreateFailure>> {
    checkContainer(container);
    checkKey(pk, id);
    const now = this.nowMs();
    const write = this.writeParams(container, pk, id, data, options, now);
    const { changes } = this.createStatement.run({ ...write, now });
    this.purgeExpired(now);
    return changes === 0 ? err('conflict') : ok(stored(write, data));
  }

  async replace<T>(container: ContainerName, pk: string, id: string, data: T, options?: ReplaceOptions): Promise<Result<StoredDocument<T>, ReplaceFailure>> {
    checkContainer(container);
    checkKey(pk, id);
    const now = this.nowMs();
    const write = this.writeParams(container, pk, id, data, options, now);
    const { changes } = this.replaceStatement.run({ ...write, now, ifMatch: options?.ifMatch ?? null });
    this.purgeExpired(now);
    if (changes > 0) return ok(stored(write, data));
    return err(this.liveExists(container, pk, id, now) ? 'precondition_failed' : 'not_found');
  }

  async upsert<T>(container: ContainerName, pk: string, id: string, data: T, options?: WriteOptions): Promise<StoredDocument<T>> {
    checkContainer(container);
    checkKey(pk, id);
    const now = this.nowMs();
    const write = this.writeParams(container, pk, id, data, options, now);
    this.upsertStatement.run(write);
    this.purgeExpired(now);
    return stored(write, data);
  }

  async delete(container: ContainerName, pk: string, id: string, options?: DeleteOptions): Promise<Result<void, DeleteFailure>> {
    checkContainer(container);
    checkKey(pk, id);
    const now = this.nowMs();
    const { changes } = this.deleteStatement.run({ container, pk, id, now, ifMatch: options?.ifMatch ?? null });
    this.purgeExpired(now);
    if (changes > 0) return ok(undefined);
    return err(this.liveExists(container, pk, id, now) ? 'precondition_failed' : 'not_found');
  }

  async query<T>(container: ContainerName, spec: QuerySpec): Promise<QueryPage<T>> {
    checkContainer(container);
    checkQuerySpec(spec, true);
    const sql = new SqlText();
    const where = this.filter(container, spec, sql);
    const position = spec.cursor === undefined ? undefined : decodeCursor(spec, spec.cursor);
    // The order key: sort field (if any), id, and pk when ids may repeat across partitions.
    const keys: string[] = [];
    const after: unknown[] = [];
    if (spec.orderBy !== undefined) {
      const path = jsonPath(fieldSegments(spec.orderBy.field));
      where.push(`json_type(data, ${path}) IN ('integer', 'real', 'text')`);
      keys.push(`json_extract(data, ${path})`);
      after.push(position?.value);
      this.ensureSortIndex(container, spec.orderBy.field, path, spec.pk !== undefined);
    }
    keys.push('id');
    after.push(position?.id);
    if (spec.pk === undefined) {
      keys.push('pk');
      after.push(position?.pk);
    }
    const ascending = spec.orderBy?.direction !== 'desc';
    if (position !== undefined) {
      // The row-value comparison is exact; the single-column bound in front lets SQLite seek the index to it.
      if (keys.length > 1) where.push(`${keys[0]} ${ascending ? '>=' : '<='} ${sql.bind(after[0])}`);
      where.push(`(${keys.join(', ')}) ${ascending ? '>' : '<'} (${after.map((value) => sql.bind(value)).join(', ')})`);
    }
    const order = keys.map((column) => `${column} ${ascending ? 'ASC' : 'DESC'}`).join(', ');
    const text = `SELECT ${columns} FROM documents WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${spec.limit + 1}`;
    const rows = this.statement(text).all(sql.params) as Row[];
    const items = rows.slice(0, spec.limit).map((row) => toDocument<T>(row));
    const last = items[items.length - 1];
    return rows.length > spec.limit && last !== undefined ? { items, nextCursor: encodeCursor(spec, last) } : { items };
  }

  async count(container: ContainerName, spec: Omit<QuerySpec, 'limit' | 'cursor' | 'orderBy'>): Promise<number> {
    checkContainer(container);
    checkQuerySpec(spec, false);
    const sql = new SqlText();
    const where = this.filter(container, spec, sql);
    const row = this.statement(`SELECT count(*) AS n FROM documents WHERE ${where.join(' AND ')}`).get(sql.params) as { n: number };
    return row.n;
  }

  async ping(): Promise<void> {
    this.pingStatement.get();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private nowMs(): number {
    return this.clock.now().getTime();
  }

  private writeParams(container: ContainerName, pk: string, id: string, data: unknown, options: WriteOptions | undefined, nowMs: number) {
    const json = JSON.stringify(data);
    if (json === undefined) throw new TypeError('Document data must be JSON-serialisable.');
    return { container, pk, id, etag: randomUUID(), data: json, expiresAt: expiresAtMs(options, nowMs) ?? null };
  }

  private liveExists(container: ContainerName, pk: string, id: string, now: number): boolean {
    return this.existsStatement.get({ container, pk, id, now }) !== undefined;
  }

  private purgeExpired(nowMs: number): void {
    if (nowMs - this.lastPurgeMs < purgeIntervalMs) return;
    this.lastPurgeMs = nowMs;
    this.purgeStatement.run({ now: nowMs });
  }

  /** The WHERE terms shared by query and count. The container is inlined so partial sort indexes apply. */
  private filter(container: ContainerName, spec: Pick<QuerySpec, 'pk' | 'where'>, sql: SqlText): string[] {
    const where = [`container = '${container}'`, `(expires_at IS NULL OR expires_at > ${sql.bind(this.nowMs())})`];
    if (spec.pk !== undefined) where.push(`pk = ${sql.bind(spec.pk)}`);
    for (const condition of spec.where ?? []) {
      // FTS5 ends a quoted string at a NUL, so such a needle is matched without the index.
      const textIndex = condition.op === 'contains' && [...condition.value].length >= trigram && !condition.value.includes('\u0000') ? this.ensureTextIndex(container, condition.fields) : undefined;
      where.push(conditionSql(condition, sql, textIndex));
    }
    return where;
  }

  /**
   * A `contains` would otherwise read and case-fold every document of the container. Each set of
   * fields searched gets a trigram full-text index (FTS5) the first time it is searched: filled from
   * the documents there, then kept in step by triggers on the documents table (built-in functions
   * only, so every connection's writes keep it, the work queue's included). Its rowids are the
   * documents' (the table has no INTEGER PRIMARY KEY, and nothing here runs VACUUM, which could
   * renumber them).
   */
  private ensureTextIndex(container: ContainerName, fields: readonly string[]): string {
    const name = `documents_text:${container}:${fields.join(',')}`;
    if (this.textIndexes.has(name)) return name;
    const values = (row: 'new' | 'documents') =>
      fields.map((field) => {
        const path = jsonPath(fieldSegments(field));
        const data = row === 'new' ? 'new.data' : 'data';
        return `CASE json_type(${data}, ${path}) WHEN 'text' THEN json_extract(${data}, ${path}) END`;
      });
    const columns = fields.map((_, i) => `c${i}`).join(', ');
    const table = `"${name}"`;
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    if (!exists) {
      this.db.transaction(() => {
        // case_sensitive 0 folds case beyond ASCII, as the exact match behind it does.
        this.db.exec(`CREATE VIRTUAL TABLE ${table} USING fts5(${columns}, tokenize = 'trigram case_sensitive 0')`);
        const when = `WHEN new.container = '${container}'`;
        const insert = `INSERT INTO ${table} (rowid, ${columns}) VALUES (new.rowid, ${values('new').join(', ')});`;
        const remove = `DELETE FROM ${table} WHERE rowid = old.rowid;`;
        this.db.exec(`CREATE TRIGGER "${name}:insert" AFTER INSERT ON documents ${when} BEGIN ${insert} END`);
        this.db.exec(`CREATE TRIGGER "${name}:update" AFTER UPDATE ON documents ${when} BEGIN ${remove} ${insert} END`);
        this.db.exec(`CREATE TRIGGER "${name}:delete" AFTER DELETE ON documents WHEN old.container = '${container}' BEGIN ${remove} END`);
        this.db.exec(`INSERT INTO ${table} (rowid, ${columns}) SELECT rowid, ${values('documents').join(', ')} FROM documents WHERE container = '${container}'`);
      })();
    }
    this.textIndexes.add(name);
    return name;
  }

  /**
   * Sorted pages would otherwise sort every matching row. The set of sort fields is small and
   * fixed by the code that queries, so each gets a partial index the first time it is used.
   */
  private ensureSortIndex(container: ContainerName, field: string, path: string, partitioned: boolean): void {
    const name = `documents_sort:${container}:${partitioned ? 'pk:' : ''}${field}`;
    if (this.sortIndexes.has(name)) return;
    // The leading container column matches the query's equality term, so the planner prefers this index.
    const keyColumns = partitioned ? `container, pk, json_extract(data, ${path}), id` : `container, json_extract(data, ${path}), id, pk`;
    this.db.exec(`CREATE INDEX IF NOT EXISTS "${name}" ON documents (${keyColumns}) WHERE container = '${container}'`);
    this.sortIndexes.add(name);
  }

  private statement(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (statement === undefined) {
      if (this.statements.size >= maxCachedStatements) this.statements.clear();
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }
}

/** Positional parameters collected while the SQL text of a query is assembled. */
class SqlText {
  readonly params: unknown[] = [];

  bind(value: unknown): string {
    this.params.push(value);
    return '?';
  }
}

/** A quoted JSON path literal; segments are validated identifiers, so inlining cannot inject. */
function jsonPath(segments: readonly string[]): string {
  return `'$.${segments.join('.')}'`;
}

/**
 * `textIndex`: the trigram index of the condition's fields, which narrows the documents to those
 * holding every trigram of the needle; the exact match then decides. It is probed as a set (`+rowid`
 * keeps SQLite from driving the query by it), so a needle that many documents hold still reads them
 * in page order and stops at the page's end.
 */
function conditionSql(condition: Condition, sql: SqlText, textIndex?: string): string {
  if (condition.op === 'contains') {
    // Parameters are positional: bound in the order they appear in the text.
    const narrowed = textIndex === undefined ? '' : `+rowid IN (SELECT rowid FROM "${textIndex}" WHERE "${textIndex}" MATCH ${sql.bind(`"${condition.value.replace(/"/g, '""')}"`)}) AND `;
    const needle = condition.value.toLowerCase();
    const terms = condition.fields.map((field) => {
      const path = jsonPath(fieldSegments(field));
      return `(json_type(data, ${path}) = 'text' AND instr(${lowerFunction}(json_extract(data, ${path})), ${sql.bind(needle)}) > 0)`;
    });
    return `(${narrowed}(${terms.join(' OR ')}))`;
  }
  const path = jsonPath(fieldSegments(condition.field));
  const type = `json_type(data, ${path})`;
  const value = `json_extract(data, ${path})`;
  switch (condition.op) {
    case 'exists':
      return `${type} IS ${condition.value ? 'NOT NULL' : 'NULL'}`;
    case 'eq':
      return typedEquals(path, condition.value, sql);
    case 'ne':
      return `(${type} IS NOT NULL AND NOT ${typedEquals(path, condition.value, sql)})`;
    case 'in':
      return inSql(path, condition.values, sql);
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      const operator = { lt: '<', le: '<=', gt: '>', ge: '>=' }[condition.op];
      const guard = typeof condition.value === 'string' ? `${type} = 'text'` : `${type} IN ('integer', 'real')`;
      return `(${guard} AND ${value} ${operator} ${sql.bind(condition.value)})`;
    }
  }
}

/** JSON booleans read back as 1/0 and strings may look like numbers, so equality checks the JSON type too. */
function typedEquals(path: string, scalar: Scalar, sql: SqlText): string {
  const type = `json_type(data, ${path})`;
  if (scalar === null) return `${type} = 'null'`;
  if (typeof scalar === 'boolean') return `${type} = '${scalar ? 'true' : 'false'}'`;
  const guard = typeof scalar === 'string' ? `${type} = 'text'` : `${type} IN ('integer', 'real')`;
  return `(${guard} AND json_extract(data, ${path}) = ${sql.bind(scalar)})`;
}

function inSql(path: string, values: readonly Scalar[], sql: SqlText): string {
  const type = `json_type(data, ${path})`;
  const value = `json_extract(data, ${path})`;
  const strings = values.filter((v) => typeof v === 'string');
  const numbers = values.filter((v) => typeof v === 'number');
  const terms: string[] = [];
  if (strings.length > 0) terms.push(`(${type} = 'text' AND ${value} IN (SELECT value FROM json_each(${sql.bind(JSON.stringify(strings))})))`);
  if (numbers.length > 0) {
    terms.push(`(${type} IN ('integer', 'real') AND ${value} IN (SELECT value FROM json_each(${sql.bind(JSON.stringify(numbers))})))`);
  }
  if (values.includes(true)) terms.push(`${type} = 'true'`);
  if (values.includes(false)) terms.push(`${type} = 'false'`);
  if (values.includes(null)) terms.push(`${type} = 'null'`);
  return terms.length === 0 ? '0' : `(${terms.join(' OR ')})`;
}

function toDocument<T>(row: Row): StoredDocument<T> {
  const document = { id: row.id, pk: row.pk, etag: row.etag, data: JSON.parse(row.data) as T };
  return row.expires_at === null ? document : { ...document, expiresAt: row.expires_at };
}

function stored<T>(write: { pk: string; id: string; etag: string; expiresAt: number | null }, data: T): StoredDocument<T> {
  const document = { id: write.id, pk: write.pk, etag: write.etag, data };
  return write.expiresAt === null ? document : { ...document, expiresAt: write.expiresAt };
}
