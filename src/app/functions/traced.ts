import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { inSpan, tracingActive } from '../../adapters/telemetry/spans';
import type { DeliveredMessage, TraceContext } from '../../domain/ports/work-queue';
import type { HttpFunctionDefinition, QueueFunctionDefinition, TimerFunctionDefinition } from './definition';

/**
 * The trace an invocation continues: what the caller or sender sent (`traceparent`, `tracestate`),
 * else what the Functions host hands the invocation (its own span, itself continued from the
 * trigger), else none (a new trace).
 */
function parentOf(sent: TraceContext | undefined, context: InvocationContext): TraceContext | undefined {
  if (sent?.['traceparent'] !== undefined) return sent;
  const host = context.traceContext;
  if (host?.traceParent === undefined || host.traceParent === null || host.traceParent === '') return undefined;
  return { traceparent: host.traceParent, ...(typeof host.traceState === 'string' && host.traceState !== '' ? { tracestate: host.traceState } : {}) };
}

function headerContext(request: HttpRequest): TraceContext | undefined {
  const traceparent = request.headers.get('traceparent');
  if (traceparent === null) return undefined;
  const tracestate = request.headers.get('tracestate');
  return { traceparent, ...(tracestate === null ? {} : { tracestate }) };
}

/** The HTTP function's handler in a server span named after its route template, continuing the caller's `traceparent`. */
export function tracedHttpHandler(definition: HttpFunctionDefinition): HttpFunctionDefinition['handler'] {
  const route = definition.site === true ? `/${definition.route}` : `/api/${definition.route}`;
  return async (request, context) => {
    if (!tracingActive()) return definition.handler(request, context);
    return inSpan(`${request.method} ${route}`, 'server', parentOf(headerContext(request), context), { 'http.request.method': request.method, 'http.route': route, 'faas.name': definition.name, 'faas.trigger': 'http' }, async (span) => {
      const response: HttpResponseInit = await definition.handler(request, context);
      const status = response.status ?? 200;
      span.setAttributes({ 'http.response.status_code': status });
      if (status >= 500) span.fail(`HTTP ${status}`);
      return response;
    });
  };
}

/** The queue function's handler in a consumer span that continues the trace the message carries. */
export function tracedQueueHandler(definition: QueueFunctionDefinition): QueueFunctionDefinition['handler'] {
  return async (message: DeliveredMessage, context) => {
    if (!tracingActive()) return definition.handler(message, context);
    const attributes = {
      'messaging.system': 'servicebus',
      'messaging.operation.type': 'process',
      'messaging.destination.name': definition.queueName,
      'messaging.message.id': message.messageId,
      'messaging.servicebus.message.delivery_count': message.deliveryCount,
      'faas.name': definition.name,
      'faas.trigger': 'pubsub',
      ...(message.sessionId === undefined ? {} : { 'messaging.servicebus.session.id': message.sessionId }),
    };
    return inSpan(`process ${definition.queueName}`, 'consumer', parentOf(message.traceContext, context), attributes, () => definition.handler(message, context));
  };
}

/** The timer function's handler in a span of its own (each run starts a trace). */
export function tracedTimerHandler(definition: TimerFunctionDefinition): TimerFunctionDefinition['handler'] {
  return async (context) => {
    if (!tracingActive()) return definition.handler(context);
    return inSpan(`timer ${definition.name}`, 'internal', parentOf(undefined, context), { 'faas.name': definition.name, 'faas.trigger': 'timer' }, () => definition.handler(context));
  };
}
