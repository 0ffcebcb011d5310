import type { TimerFunctionDefinition } from '../../src/app/functions/definition';
import { getConfig } from '../../src/app/config';
import { reconcileFor } from '../../src/app/reconcile-services';
import { getServices } from '../../src/app/services';
import { sweepAbandonedConsents } from '../../src/domain/connections/consent';
import { queueReconcileAll } from '../../src/domain/reconcile/reconcile-connection';

/** Queues a reconcile run of every active connection on RECONCILE_SCHEDULE (NCRONTAB, default every 15 minutes), and removes abandoned consent links. */
export const reconcileTimer: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'reconcile-timer',
  scheduleSetting: 'RECONCILE_SCHEDULE',
  // Read when the local host starts its timers, not when this module loads.
  get schedule() {
    return getConfig().reconcileSchedule;
  },
  handler: async (context) => {
    const services = await getServices();
    const report = await queueReconcileAll(reconcileFor(services));
    context.log(`queued reconcile runs for ${report.queued.length} connection(s); skipped ${report.skipped.length}`);
    const swept = await sweepAbandonedConsents(services);
    if (swept > 0) context.log(`removed ${swept} consent link(s) that expired unused`);
  },
};
