import type { FunctionDefinition } from '../src/app/functions/definition';
import { health } from './http/health';
import { metricsRoute } from './http/metrics';
import { apiReferenceAssetRoute, apiReferenceRoute } from './http/docs';
import { deleteDeadLetterRoute, listDeadLettersRoute, resubmitDeadLetterRoute } from './http/dead-letters';
import { openApi } from './http/openapi';
import { createKey, deleteKey, listKeys } from './http/keys';
import { activateUserRoute, createUserRoute, deleteUserRoute, getUserRoute, listUsersRoute, setUserPasswordRoute, suspendUserRoute, updateUserRoute } from './http/users';
import { addGroupMemberRoute, createGroupRoute, deleteGroupRoute, getGroupRoute, listGroupMembersRoute, listGroupsOfUserRoute, listGroupsRoute, removeGroupMemberRoute, updateGroupRoute } from './http/groups';
import { directoryCommands } from './queue/directory-commands';
import { getImportRoute, previewM365UsersRoute, startImportRoute } from './http/imports';
import { getPlanRoute, planChangeRoute, queuePlanRoute } from './http/plans';
import { importWorker } from './queue/import-worker';
import { planWorker } from './queue/plan-worker';
import { createConnectionRoute, deauthorizeConnectionRoute, deleteConnectionRoute, getConnectionRoute, listConnectionsRoute, startConsentRoute, updateConnectionRoute } from './http/connections';
import { oauthCallbackRoute } from './http/oauth-callback';
import { cancelDeactivationsRoute, confirmDeactivationsRoute, listHeldDeactivationsRoute, reconcileConnectionRoute, reconcileStatusRoute } from './http/reconcile';
import { reconcileTimer } from './timer/reconcile';
import { reconcileWorker } from './queue/reconcile-worker';
import { noticeRelay } from './queue/notice-relay';
import { bindGroupRoute, bindUserRoute, countBindingsRoute, getGroupBindingRoute, getUserBindingRoute, listGroupBindingsRoute, listUserBindingsRoute, unbindGroupRoute, unbindUserRoute } from './http/bindings';
import { listEventsRoute } from './http/events';
import { listLicensesRoute } from './http/licenses';
import { provisioningWorker } from './queue/provisioning-worker';
import { groupSyncWorker } from './queue/group-sync';
import { notificationsRoute } from './http/notifications';
import { subscriptionsWorker } from './queue/subscriptions-worker';
import { subscriptionsTimer } from './timer/subscriptions';
import { consoleRoute } from './http/console';

/**
 * Every function of the app, once. `functions/index.ts` registers them with the Azure Functions
 * host; the local host (`npm start`) serves the same table.
 */
export const functionTable: readonly FunctionDefinition[] = [
  health,
  openApi,
  createKey,
  listKeys,
  deleteKey,
  createUserRoute,
  listUsersRoute,
  getUserRoute,
  updateUserRoute,
  deleteUserRoute,
  suspendUserRoute,
  activateUserRoute,
  setUserPasswordRoute,
  createGroupRoute,
  listGroupsRoute,
  getGroupRoute,
  updateGroupRoute,
  deleteGroupRoute,
  addGroupMemberRoute,
  removeGroupMemberRoute,
  listGroupMembersRoute,
  listGroupsOfUserRoute,
  directoryCommands,
  createConnectionRoute,
  listConnectionsRoute,
  getConnectionRoute,
  updateConnectionRoute,
  deleteConnectionRoute,
  startConsentRoute,
  deauthorizeConnectionRoute,
  oauthCallbackRoute,
  reconcileConnectionRoute,
  reconcileStatusRoute,
  listHeldDeactivationsRoute,
  confirmDeactivationsRoute,
  cancelDeactivationsRoute,
  reconcileTimer,
  reconcileWorker,
  bindUserRoute,
  unbindUserRoute,
  getUserBindingRoute,
  listUserBindingsRoute,
  bindGroupRoute,
  unbindGroupRoute,
  listGroupBindingsRoute,
  getGroupBindingRoute,
  countBindingsRoute,
  listLicensesRoute,
  listEventsRoute,
  provisioningWorker,
  groupSyncWorker,
  previewM365UsersRoute,
  planChangeRoute,
  queuePlanRoute,
  getPlanRoute,
  startImportRoute,
  getImportRoute,
  importWorker,
  planWorker,
  noticeRelay,
  notificationsRoute,
  subscriptionsWorker,
  subscriptionsTimer,
  listDeadLettersRoute,
  resubmitDeadLetterRoute,
  deleteDeadLetterRoute,
  apiReferenceRoute,
  apiReferenceAssetRoute,
  metricsRoute,
  consoleRoute,
];
