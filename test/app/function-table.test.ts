import { functionTable } from '../../functions/table';
import { sessionQueues } from '../../src/domain/ports/work-queue';

describe('the function table', () => {
  it('names every function once, with names the Functions host accepts', () => {
    const names = functionTable.map((definition) => definition.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z][A-Za-z0-9_-]{0,127}$/);
  });

  it('never defines one route and method twice', () => {
    const keys = functionTable.flatMap((d) => (d.kind === 'http' ? d.methods.map((m) => `${m} ${d.route.toLowerCase()}`) : []));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('registers queue functions with sessions exactly on the session-enabled queues', () => {
    for (const definition of functionTable) {
      if (definition.kind === 'queue') expect([definition.queueName, definition.sessions]).toEqual([definition.queueName, sessionQueues.has(definition.queueName)]);
    }
  });

  it('documents every API route for OpenAPI, and serves only the console outside /api', () => {
    for (const definition of functionTable) {
      if (definition.kind === 'http' && definition.site !== true) expect(definition.doc?.route).toBe(definition.route);
    }
    const site = functionTable.filter((d) => d.kind === 'http' && d.site === true).map((d) => d.name);
    expect(site).toEqual(['console']);
  });
});
