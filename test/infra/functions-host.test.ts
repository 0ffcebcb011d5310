import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { CronExpressionParser } from 'cron-parser';
import { functionTable } from '../../functions/table';
import { queueNames } from '../../src/domain/ports/work-queue';
import { azureAppSettings } from './azure-app-settings';
import { loadRegistrations, type Registration } from './functions-host';
import { readmeQueues } from './readme-tables';

const hostJson = JSON.parse(readFileSync(path.resolve(__dirname, '../../host.json'), 'utf8')) as { extensions: { http: { routePrefix: string } } };
// The Functions host serves its own API under these first segments; a function route there is refused or shadowed.
const reservedFirstSegments = ['admin', 'runtime'];

function byType(registrations: readonly Registration[], type: string): Registration[] {
  return registrations.filter((r) => r.trigger.type === type);
}

/** A route template with its parameters reduced to their position: `users/{id}` and `users/{userId:guid}` are one route. */
function routeShape(route: string): string {
  return route.toLowerCase().replace(/\{\*?[^}]+\}/g, '{}');
}

describe('the built app under the Functions host, with the template\'s app settings', () => {
  const { registrations, stderr } = loadRegistrations({ FUNCTIONS_WORKER_RUNTIME: 'node', WEBSITE_INSTANCE_ID: 'parity', ...azureAppSettings() });

  it('starts without a configuration error', () => {
    expect(stderr).toEqual([]);
  });

  it('registers every function of the table exactly once, and nothing else', () => {
    const names = registrations.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(functionTable.map((d) => d.name).sort());
    const kinds = new Map(functionTable.map((d) => [d.name, d.kind]));
    const triggerOf = { http: 'httpTrigger', queue: 'serviceBusTrigger', timer: 'timerTrigger' } as const;
    for (const r of registrations) expect([r.name, r.trigger.type]).toEqual([r.name, triggerOf[kinds.get(r.name) ?? 'http']]);
  });

  it('gives no two HTTP functions the same route and method, and none a route the host reserves; the API under api/, the console at the root', () => {
    expect(hostJson.extensions.http.routePrefix).toBe('');
    const sites = new Set(functionTable.filter((d) => d.kind === 'http' && d.site === true).map((d) => d.name));
    const seen = new Map<string, string>();
    for (const r of byType(registrations, 'httpTrigger')) {
      const route = String(r.trigger.route);
      expect(route).not.toMatch(/^\/|\/$/);
      expect(reservedFirstSegments).not.toContain(route.split('/')[0]?.toLowerCase());
      expect([r.name, sites.has(r.name) ? route : route.startsWith('api/')]).toEqual([r.name, sites.has(r.name) ? '{*path}' : true]);
      for (const method of r.trigger.methods as string[]) {
        const key = `${method} ${routeShape(route)}`;
        expect([key, seen.get(key)]).toEqual([key, undefined]);
        seen.set(key, r.name);
      }
    }
  });

  it('triggers Service Bus functions on the identity-based SERVICEBUS connection, sessions exactly where README\'s queue table says', () => {
    const documented = readmeQueues();
    const triggers = byType(registrations, 'serviceBusTrigger');
    expect(triggers.map((r) => r.trigger.queueName).sort()).toEqual([...documented.keys()].sort());
    expect([...documented.keys()].sort()).toEqual([...queueNames].sort());
    for (const r of triggers) {
      expect(r.trigger.connection).toBe('SERVICEBUS');
      expect([r.trigger.queueName, r.trigger.isSessionsEnabled]).toEqual([r.trigger.queueName, documented.get(String(r.trigger.queueName))]);
    }
  });

  it('schedules timers on valid NCRONTAB expressions, an adjustable one through an app setting the template sets', () => {
    const settings = azureAppSettings();
    const timers = byType(registrations, 'timerTrigger');
    expect(timers.length).toBe(functionTable.filter((d) => d.kind === 'timer').length);
    for (const r of timers) {
      const definition = functionTable.find((d) => d.name === r.name);
      if (definition?.kind !== 'timer') throw new Error(`${r.name} is not a timer of the table`);
      const setting = /^%([A-Za-z0-9_]+)%$/.exec(String(r.trigger.schedule))?.[1];
      expect([r.name, setting]).toEqual([r.name, definition.scheduleSetting]);
      const schedule = setting === undefined ? String(r.trigger.schedule) : settings[setting];
      expect([r.name, schedule?.split(/\s+/).length]).toEqual([r.name, 6]);
      expect(() => CronExpressionParser.parse(schedule as string)).not.toThrow();
    }
  });
});

describe('the built app under the Functions host with a bad setting', () => {
  const { registrations, stderr } = loadRegistrations({ FUNCTIONS_WORKER_RUNTIME: 'node', ...azureAppSettings(), M365_MODE: '' });

  it('says so once on stderr, naming the variable', () => {
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^m365-bridge cannot start: Invalid configuration: M365_MODE: is required under the Azure Functions host/);
  });

  it('keeps every HTTP function answering 503 with the variable, and leaves queue and timer functions unregistered', async () => {
    const http = functionTable.filter((d) => d.kind === 'http').map((d) => d.name);
    expect(registrations.map((r) => r.name).sort()).toEqual([...http].sort());
    const health = registrations.find((r) => r.name === 'health');
    const logged: unknown[][] = [];
    const context = new InvocationContext({ functionName: 'health', invocationId: 'inv-1', logHandler: (level, ...args) => void logged.push([level, ...args]) });
    const response = (await health?.handler(new HttpRequest({ method: 'GET', url: 'https://app.example/api/health' }), context)) as { status: number; body: string };
    expect(response.status).toBe(503);
    expect(JSON.parse(response.body)).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('M365_MODE') } });
    expect(logged).toEqual([['error', expect.stringContaining('M365_MODE: is required under the Azure Functions host')]]);
  });
});
