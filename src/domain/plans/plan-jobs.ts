import { z } from 'zod';
import type { DeliveredMessage, MessageSender } from '../ports/work-queue';
import { parseMessage, type MessageSettlement } from '../queue-messages';
import { planChange, type PlanDeps, type PlanRequest } from './plan-changes';
import { readPlanJob, startPlanJob, storePlan, updatePlanJob, type PlanJobView, type PlanStoreDeps } from './stored-plans';

/** The `plans` queue: make one stored plan in the background. */
export const planJobMessageSchema = z.strictObject({
  connectionId: z.string().min(1).max(128),
  planId: z.uuid(),
});

/** A running job writes its progress every this many Graph list pages. */
const progressEvery = 10;

/** Records a plan to make and queues it; `GET /connections/{id}/plans/{planId}` follows it. */
export async function queuePlan(deps: PlanStoreDeps & { readonly sender: MessageSender }, connectionId: string, request: PlanRequest): Promise<PlanJobView> {
  const job = await startPlanJob(deps, connectionId, request);
  await deps.sender.send('plans', [{ messageId: `plan:${job.id}`, body: { connectionId, planId: job.id } }]);
  return job;
}

/**
 * The `plans` queue's worker: makes the plan of a running job and stores it under the job's id.
 * Graph not answering is thrown, so the queue delivers the message again later; any other failure
 * is recorded on the job, which then shows it.
 */
export async function makeQueuedPlan(deps: PlanDeps, delivered: DeliveredMessage): Promise<MessageSettlement> {
  const parsed = parseMessage(planJobMessageSchema, delivered.body, 'a plan');
  if (!parsed.ok) return parsed.error;
  const { connectionId, planId } = parsed.value;
  const job = await readPlanJob(deps, connectionId, planId);
  if (job?.status !== 'running') return { kind: 'complete', detail: job === undefined ? 'made before, or expired' : 'failed before' };
  const plan = await planChange(deps, connectionId, job.request, {
    onUserPage: async (userPages) => {
      if (userPages % progressEvery === 0) await updatePlanJob(deps, connectionId, planId, { userPages });
    },
  });
  if (!plan.ok) {
    if (plan.error.code === 'm365_unavailable') throw new Error(plan.error.message);
    await updatePlanJob(deps, connectionId, planId, { error: { code: plan.error.code, message: plan.error.message } });
    return { kind: 'complete', detail: `failed: ${plan.error.code}` };
  }
  await storePlan(deps, job.request, plan.value, planId);
  return { kind: 'complete', detail: `made: ${plan.value.accounts.length} accounts` };
}
