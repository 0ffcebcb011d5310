import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { DeliveredMessage, QueueName } from '../../domain/ports/work-queue';
import type { RouteDoc } from '../http/openapi-registry';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * An HTTP-triggered function. `route` is in Functions template syntax (`users/{id}`, `{*path}` for the
 * rest of the path), relative to `/api`, or to the site root for a `site` function (the console).
 */
export interface HttpFunctionDefinition {
  readonly kind: 'http';
  readonly name: string;
  readonly route: string;
  /** Served at the site root instead of under `/api`. */
  readonly site?: boolean;
  readonly methods: readonly HttpMethod[];
  readonly handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
  /**
   * Checks what the headers alone decide (the API key) so a host can refuse a request before it
   * reads the body: a response refuses, undefined admits. The handler checks again regardless.
   */
  readonly admit?: (headers: Readonly<Record<string, string>>) => Promise<HttpResponseInit | undefined>;
  /** What the OpenAPI document says of this route. */
  readonly doc?: RouteDoc;
}

/** How a queue handler can settle a message beyond success (complete) and throw (abandon). */
export interface QueueSettlement {
  /** Remove the message for good, with a reason an operator can read. */
  deadLetter(reason: string): Promise<void>;
}

/** A queue-triggered function. Throwing abandons (redelivery); `PoisonMessageError` dead-letters at once. */
export interface QueueFunctionDefinition {
  readonly kind: 'queue';
  readonly name: string;
  readonly queueName: QueueName;
  readonly sessions: boolean;
  readonly handler: (message: DeliveredMessage, context: InvocationContext) => Promise<void>;
}

/** A timer-triggered function on an NCRONTAB schedule (six fields, seconds first). */
export interface TimerFunctionDefinition {
  readonly kind: 'timer';
  readonly name: string;
  /**
   * The app setting holding the schedule, for a schedule an administrator may change: the Functions
   * host resolves `%NAME%` itself. Absent: `schedule` is fixed.
   */
  readonly scheduleSetting?: string;
  /** The schedule the local host fires it on (with a setting, read through the configuration). */
  readonly schedule: string;
  readonly handler: (context: InvocationContext) => Promise<void>;
}

export type FunctionDefinition = HttpFunctionDefinition | QueueFunctionDefinition | TimerFunctionDefinition;
