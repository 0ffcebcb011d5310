import type { ContainerName, DocumentStore, QuerySpec } from '../../domain/ports/document-store';
import { inSpan } from './spans';

/**
 * The store with a client span per operation at the port boundary: the container, the operation
 * and, for writes, whether it succeeded or what refused it. Ids and data stay out of the span.
 */
export class TracedDocumentStore implements DocumentStore {
  constructor(
    private readonly inner: DocumentStore,
    private readonly system: 'sqlite' | 'cosmosdb',
  ) {}

  get: DocumentStore['get'] = (container, pk, id) => this.span('get', container, () => this.inner.get(container, pk, id));
  getMany: DocumentStore['getMany'] = (container, pk, ids) => this.span('getMany', container, () => this.inner.getMany(container, pk, ids));
  create: DocumentStore['create'] = (container, pk, id, data, options) => this.span('create', container, () => this.inner.create(container, pk, id, data, options));
  replace: DocumentStore['replace'] = (container, pk, id, data, options) => this.span('replace', container, () => this.inner.replace(container, pk, id, data, options));
  upsert: DocumentStore['upsert'] = (container, pk, id, data, options) => this.span('upsert', container, () => this.inner.upsert(container, pk, id, data, options));
  delete: DocumentStore['delete'] = (container, pk, id, options) => this.span('delete', container, () => this.inner.delete(container, pk, id, options));
  query: DocumentStore['query'] = (container, spec) => this.span('query', container, () => this.inner.query(container, spec), spec);
  count: DocumentStore['count'] = (container, spec) => this.span('count', container, () => this.inner.count(container, spec), spec);

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private span<R>(operation: string, container: ContainerName, run: () => Promise<R>, spec?: Pick<QuerySpec, 'pk'>): Promise<R> {
    const attributes = { 'db.system.name': this.system, 'db.operation.name': operation, 'db.collection.name': container, ...(spec === undefined ? {} : { 'm365bridge.cross_partition': spec.pk === undefined }) };
    return inSpan(`${operation} ${container}`, 'client', undefined, attributes, async (span) => {
      const result = await run();
      if (typeof result === 'object' && result !== null && 'ok' in result && result.ok === false && 'error' in result) span.setAttributes({ 'm365bridge.store.refused': String(result.error) });
      return result;
    });
  }
}
