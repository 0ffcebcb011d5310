import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema, limitSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { reconcileFor } from '../../src/app/reconcile-services';
import { connectionStatuses } from '../../src/domain/connections/connection-state';
import { userSummarySchema } from '../../src/domain/directory/user-schemas';
import { ApiError } from '../../src/domain/errors';
import { InvalidCursorError } from '../../src/domain/ports/document-store';
import { guardedChanges } from '../../src/domain/reconcile/deactivation-guard';
import { cancelDeactivations, confirmDeactivations, listHeldDeactivations, type HeldDeactivationsFailure } from '../../src/domain/reconcile/held-deactivations';
import { reconcileStatus, requestReconcile, type ReconcileRefusal } from '../../src/domain/reconcile/reconcile-connection';
import type { Result } from '../../src/domain/result';

const tags = ['reconcile'];
const params = z.strictObject({ id: z.string().min(1).max(128) });
const notFound = { 404: { description: 'No such connection', schema: errorSchema } };

function refusal(error: ReconcileRefusal | HeldDeactivationsFailure): ApiError {
  switch (error.code) {
    case 'connection_not_found':
      return new ApiError('NOT_FOUND', error.message);
    case 'lease_held':
    case 'reauthorization_required':
    case 'not_active':
    case 'nothing_held':
      return new ApiError('CONFLICT', error.message);
  }
}

function valueOf<T>(result: Result<T, ReconcileRefusal | HeldDeactivationsFailure>): T {
  if (!result.ok) throw refusal(result.error);
  return result.value;
}

const countsSchema = z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]));
const runReportSchema = z.object({
  runId: z.string(),
  connectionId: z.string(),
  trigger: z.enum(['timer', 'on_demand']),
  startedAt: z.string(),
  finishedAt: z.string(),
  outcome: z.enum(['completed', 'failed', 'lease_lost', 'reauthorization_required']),
  users: countsSchema.optional().meta({ description: 'round (incremental|full), fullRoundReason, pages, reported, bound, drifted, deleted, missing, nudged' }),
  safetyNet: countsSchema.optional().meta({ description: 'stuck, retried, backingOff, cancelled' }),
  lifecycle: countsSchema.optional().meta({ description: 'dueDeletions (accounts past their grace period, nudged for deletion), licenseRetries (bindings waiting for a seat, nudged once one is free)' }),
  groups: countsSchema.optional(),
  heldDeactivations: z.number().int(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
}).meta({ id: 'ReconcileRun' });

export const reconcileConnectionRoute = defineRoute({
  name: 'reconcile-start',
  method: 'POST',
  route: 'connections/{id}/reconcile',
  auth: 'admin',
  summary: 'Reconcile a connection now: read what changed in Microsoft 365 and nudge every drifted or deleted bound account',
  tags,
  params,
  body: z.strictObject({ full: z.boolean().default(false).meta({ description: 'Read every account (a full resync) instead of the changes since the last run' }) }).default({ full: false }),
  responses: {
    202: { description: 'Accepted; the run is queued and holds the connection\'s lease (GET shows it, and the run once finished)', schema: z.object({ runId: z.string(), connectionId: z.string(), status: z.literal('queued'), leaseExpiresAt: z.string() }) },
    ...notFound,
    409: { description: 'A reconcile of this connection is already running (its lease is held), or the connection waits for re-consent or is not active', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params: { id }, body, services }) => {
    const queued = valueOf(await requestReconcile(reconcileFor(services), id, { forceFull: body.full }));
    return { status: 202, body: { runId: queued.runId, connectionId: queued.connectionId, status: 'queued', leaseExpiresAt: queued.leaseExpiresAt }, headers: { location: `/api/connections/${id}/reconcile` } };
  },
});

export const reconcileStatusRoute = defineRoute({
  name: 'reconcile-status',
  method: 'GET',
  route: 'connections/{id}/reconcile',
  auth: 'reader',
  summary: 'The reconcile run holding the connection\'s lease, if any, and the last finished run',
  tags,
  params,
  responses: { 200: { description: 'Status', schema: z.object({ running: z.object({ runId: z.string(), leaseExpiresAt: z.string() }).optional(), lastRun: runReportSchema.optional() }) }, ...notFound, ...errorResponses },
  handler: async ({ params: { id }, services }) => ({ status: 200, body: valueOf(await reconcileStatus(reconcileFor(services), id)) }),
});

export const listHeldDeactivationsRoute = defineRoute({
  name: 'deactivations-list',
  method: 'GET',
  route: 'connections/{id}/deactivations',
  auth: 'reader',
  summary: 'Changes the mass-change guard holds for an admin, oldest first: deactivations and deletes beyond deactivationGuard, attribute writes and renames beyond changeGuard',
  tags,
  params,
  query: z.strictObject({ limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: {
    200: {
      description: 'Held deactivations',
      schema: z.object({
        status: z.enum(connectionStatuses),
        count: z.number().int(),
        items: z.array(
          z.object({
            userId: z.string(),
            user: userSummarySchema.optional(),
            m365UserId: z.string(),
            heldAt: z.string(),
            change: z.enum(guardedChanges).meta({ description: 'deactivate and delete count against deactivationGuard; update (attributes, password) and rename (userPrincipalName) against changeGuard' }),
            attributes: z.array(z.string()).meta({ description: 'The attributes the held write sets (names only)' }),
          }),
        ),
        nextCursor: z.string().optional(),
      }),
    },
    ...notFound,
    ...errorResponses,
  },
  handler: async ({ params: { id }, query, services }) => {
    try {
      return { status: 200, body: valueOf(await listHeldDeactivations(reconcileFor(services), id, query)) };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new ApiError('VALIDATION_FAILED', `query.cursor: ${error.message}`, [{ field: 'query.cursor', message: error.message }]);
      throw error;
    }
  },
});

const decided = { 409: { description: 'Nothing is held and the connection is not paused', schema: errorSchema } };

export const confirmDeactivationsRoute = defineRoute({
  name: 'deactivations-confirm',
  method: 'POST',
  route: 'connections/{id}/deactivations/confirm',
  auth: 'admin',
  summary: 'Release the held changes: the worker makes exactly the held writes (disables, deletes, attribute writes), and the connection is active again',
  tags,
  params,
  responses: { 200: { description: 'Released', schema: z.object({ status: z.enum(connectionStatuses), released: z.number().int() }) }, ...notFound, ...decided, ...errorResponses },
  handler: async ({ params: { id }, services }) => ({ status: 200, body: valueOf(await confirmDeactivations(reconcileFor(services), id)) }),
});

export const cancelDeactivationsRoute = defineRoute({
  name: 'deactivations-cancel',
  method: 'POST',
  route: 'connections/{id}/deactivations/cancel',
  auth: 'admin',
  summary: 'Drop the held changes: those accounts stay as they are, their bindings show error DEACTIVATION_CANCELLED or CHANGE_CANCELLED, and the connection is active again',
  tags,
  params,
  responses: { 200: { description: 'Cancelled', schema: z.object({ status: z.enum(connectionStatuses), cancelled: z.number().int() }) }, ...notFound, ...decided, ...errorResponses },
  handler: async ({ params: { id }, services }) => ({ status: 200, body: valueOf(await cancelDeactivations(reconcileFor(services), id)) }),
});
