import { app, type InvocationContext } from '@azure/functions';
import { redact } from '../src/adapters/logging/redact';
import { PoisonMessageError } from '../src/domain/errors';
import { PoisonRecords } from '../src/domain/dead-letters/poison-records';
import type { QueueFunctionDefinition } from '../src/app/functions/definition';
import { tracedHttpHandler, tracedQueueHandler, tracedTimerHandler } from '../src/app/functions/traced';
import type { TraceContext } from '../src/domain/ports/work-queue';
import { getServices } from '../src/app/services';
import { configProblem } from '../src/app/config';
import { configRefusal } from '../src/app/http/config-refusal';
import { functionTable } from './table';

/** Service Bus trigger metadata as the Functions host passes it. */
interface ServiceBusTriggerMetadata {
  readonly messageId?: string;
  readonly sessionId?: string;
  readonly deliveryCount?: number;
  readonly enqueuedTimeUtc?: string;
  /** The sender's application properties: `traceparent`/`tracestate` or `Diagnostic-Id` carry its trace. */
  readonly applicationProperties?: Readonly<Record<string, unknown>>;
}

/** The trace context a Service Bus message carries in its application properties, if any. */
function sentTraceContext(properties: Readonly<Record<string, unknown>> | undefined): TraceContext | undefined {
  const traceparent = properties?.['traceparent'] ?? properties?.['Diagnostic-Id'];
  if (typeof traceparent !== 'string') return undefined;
  const tracestate = properties?.['tracestate'];
  return { traceparent, ...(typeof tracestate === 'string' ? { tracestate } : {}) };
}

/**
 * The Functions host settles Service Bus messages itself (complete on return, abandon on throw,
 * dead-letter after maxDeliveryCount). A poison message is completed and kept as a dead-letter
 * record in the store with its reason, since the Node worker cannot dead-letter explicitly.
 */
function serviceBusHandler(definition: QueueFunctionDefinition) {
  const handler = afterServices(tracedQueueHandler(definition));
  return async (body: unknown, context: InvocationContext): Promise<void> => {
    const meta = context.triggerMetadata as ServiceBusTriggerMetadata | undefined;
    const traceContext = sentTraceContext(meta?.applicationProperties);
    const message = {
      messageId: meta?.messageId ?? context.invocationId,
      ...(meta?.sessionId === undefined ? {} : { sessionId: meta.sessionId }),
      deliveryCount: meta?.deliveryCount ?? 1,
      enqueuedAt: meta?.enqueuedTimeUtc === undefined ? new Date() : new Date(meta.enqueuedTimeUtc),
      body,
      ...(traceContext === undefined ? {} : { traceContext }),
    };
    try {
      await handler(message, context);
    } catch (error) {
      if (!(error instanceof PoisonMessageError)) throw error;
      const services = await getServices();
      services.logger.error('message dead-lettered', { queue: definition.queueName, messageId: message.messageId, reason: error.reason });
      // Kept for the admin, without whatever a sender put in a field named like a secret.
      await new PoisonRecords(services).record(definition.queueName, message, error.reason, redact(body));
    }
  };
}

/**
 * A bad setting must not look like an empty app (a throw here would leave the host with 0
 * functions and one line about an entry point). Instead: one prominent line on stderr at start,
 * every HTTP function answers 503 and logs the error on each call, and the queue and timer
 * functions stay unregistered, so their messages wait in Service Bus instead of using up their
 * deliveries into the dead-letter queue. A corrected setting restarts the app.
 */
const problem = configProblem();
if (problem !== undefined) {
  console.error(`m365-bridge cannot start: ${problem.message}. HTTP functions answer 503 and queue and timer functions are not registered until the setting is fixed.`);
}

/**
 * Services (and with them telemetry) start on the first invocation; waiting for them before the
 * span starts puts that first invocation in the trace too. A failure is the handler's to report.
 */
function afterServices<A extends unknown[], R>(handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    await getServices().catch(() => undefined);
    return handler(...args);
  };
}

for (const definition of functionTable) {
  if (problem !== undefined) {
    if (definition.kind === 'http') app.http(definition.name, { route: definition.route, methods: [...definition.methods], authLevel: 'anonymous', handler: configRefusal(problem) });
    continue;
  }
  switch (definition.kind) {
    case 'http':
      // host.json sets no route prefix, so the console can be served at the root; the API keeps /api.
      app.http(definition.name, { route: definition.site === true ? definition.route : `api/${definition.route}`, methods: [...definition.methods], authLevel: 'anonymous', handler: afterServices(tracedHttpHandler(definition)) });
      break;
    case 'queue':
      app.serviceBusQueue(definition.name, {
        connection: 'SERVICEBUS',
        queueName: definition.queueName,
        isSessionsEnabled: definition.sessions,
        handler: serviceBusHandler(definition),
      });
      break;
    case 'timer': {
      const tracedTimer = tracedTimerHandler(definition);
      app.timer(definition.name, { schedule: definition.scheduleSetting === undefined ? definition.schedule : `%${definition.scheduleSetting}%`, handler: afterServices((_timer: unknown, context: InvocationContext) => tracedTimer(context)) });
      break;
    }
  }
}
