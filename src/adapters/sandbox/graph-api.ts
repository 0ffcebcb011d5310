import type { Clock } from '../../domain/ports/clock';
import type { AccessContext } from './sandbox-authority';
import { deltaRound } from './graph-delta';
import { badRequest, forbidden, graphError, notFound, type GraphResult } from './graph-errors';
import {
  defaultUserSelect,
  filterableGroupProperties,
  filterableUserProperties,
  groupPropertyNames,
  newGroupProps,
  newUserProps,
  userPropertyNames,
  writableGroupProperties,
  writableUserProperties,
} from './graph-user-properties';
import { matchesFilter, ODataQueryError, parseFilter, parseSelect, parseTop, parseUserExpand, pinnedValues, type FilterNode } from './odata-query';
import type { SandboxState } from './sandbox-state';
import { privilegedRoleTemplateIds } from '../../domain/provisioning/privileged-accounts';
import { directoryRoleTemplates, stableGuid } from './seed';
import { conflictingPlans, type SandboxAssignedLicense, type SandboxSku } from './licensing';
import type { GroupRecord, TenantDirectory, UserRecord } from './tenant-directory';

/** One Graph request relative to /v1.0, from HTTP or from a `$batch` item. */
export interface GraphCall {
  readonly method: string;
  /** e.g. `/users/{id}`; segments still percent-encoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
}

const userSelectable = new Set<string>([...userPropertyNames, 'id', 'assignedLicenses']);
const userDeltaSelectable = new Set<string>([...userSelectable, 'manager']);
const groupSelectable = new Set<string>([...groupPropertyNames, 'id']);
const groupDeltaSelectable = new Set<string>([...groupSelectable, 'members']);
const indexedUserProperties = new Set(['userPrincipalName', 'mail', 'id']);
const indexedGroupProperties = new Set(['id']);

// Least-privileged delegated permissions per operation (each API page's permissions table).
const scopes = {
  readUsers: ['user.readbasic.all', 'user.read.all', 'user.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  deltaUsers: ['user.read.all', 'user.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  writeUsers: ['user.readwrite.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  readGroups: ['group.read.all', 'group.readwrite.all', 'groupmember.read.all', 'groupmember.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  writeGroups: ['group.readwrite.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  writeMembers: ['groupmember.readwrite.all', 'group.readwrite.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  // subscribedsku-list.md; user-assignlicense.md.
  readSkus: ['licenseassignment.read.all', 'organization.read.all', 'organization.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  assignLicenses: ['licenseassignment.readwrite.all', 'user.readwrite.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  revokeSessions: ['user.revokesessions.all', 'user.readwrite.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  readRoles: ['rolemanagement.read.directory', 'rolemanagement.readwrite.directory', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
  readDomains: ['domain.read.all', 'domain.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'],
} as const;

/** Properties Graph treats as sensitive on users with administrator roles ("Who can perform sensitive actions"). */
const sensitiveUserProperties = new Set<string>(['accountEnabled', 'businessPhones', 'mobilePhone', 'otherMails', 'passwordProfile']);

const userAdminRoles = new Set<string>([directoryRoleTemplates.globalAdministrator, directoryRoleTemplates.userAdministrator]);
// revokeSignInSessions: Helpdesk Administrator is enough for non-admins (user-revokesigninsessions.md).
const sessionAdminRoles = new Set<string>([...userAdminRoles, directoryRoleTemplates.helpdeskAdministrator]);
const groupAdminRoles = new Set<string>([directoryRoleTemplates.globalAdministrator, directoryRoleTemplates.userAdministrator, directoryRoleTemplates.groupsAdministrator]);

/** Entra's password rule: 8-256 characters from three of four classes (SSPR password policies). */
function passwordComplies(password: string): boolean {
  if (password.length < 8 || password.length > 256) return false;
  if (!/^[\x20-\x7e]+$/.test(password)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(password)).length;
  return classes >= 3;
}

// userPrincipalName: A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @ (user-post-users.md), no leading or trailing dot.
const upnPattern = /^[A-Za-z0-9'._\-!#^~]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;
const mailNicknamePattern = /^[^\s@()\\[\]";:<>,]{1,64}$/;

function splitPath(path: string): string[] {
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    const decoded = decodeURIComponent(raw);
    // `users('upn')` is Graph's key syntax for keys that would otherwise be ambiguous.
    const keyed = /^([A-Za-z]+)\('(.*)'\)$/.exec(decoded);
    if (keyed) segments.push(keyed[1] ?? '', (keyed[2] ?? '').replace(/''/g, "'"));
    else segments.push(decoded);
  }
  return segments;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The Graph v1.0 subset the sandbox serves, evaluated against a tenant's directory. */
export class SandboxGraph {
  constructor(
    private readonly state: SandboxState,
    private readonly graphBase: string,
    private readonly clock: Clock,
    private readonly timeScale: number,
    private readonly replicationLagMs: () => number,
  ) {}

  handle(call: GraphCall, ctx: AccessContext): GraphResult {
    const nowMs = this.clock.now().getTime();
    try {
      return this.route(call, ctx, nowMs);
    } catch (error) {
      if (error instanceof ODataQueryError) return graphError(error.status, error.code, error.message, nowMs);
      if (error instanceof URIError) return badRequest('Invalid request URI.', nowMs);
      throw error;
    }
  }

  private route(call: GraphCall, ctx: AccessContext, nowMs: number): GraphResult {
    const segments = splitPath(call.path);
    const m = call.method;
    const tenant = ctx.tenant;
    const [root, key, sub, ...more] = segments;
    if (root === 'me') return this.route({ ...call, path: `/users/${encodeURIComponent(ctx.userId)}${segments.length > 1 ? `/${segments.slice(1).map(encodeURIComponent).join('/')}` : ''}` }, ctx, nowMs);
    switch (root) {
      case 'users':
        if (key === undefined) {
          if (m === 'GET') return this.need(ctx, scopes.readUsers, nowMs) ?? this.listUsers(call, tenant, nowMs);
          if (m === 'POST') return this.need(ctx, scopes.writeUsers, nowMs, userAdminRoles) ?? this.createUser(call, tenant, nowMs);
          return methodNotAllowed(nowMs);
        }
        if (isDelta(key) && sub === undefined) {
          if (m !== 'GET') return methodNotAllowed(nowMs);
          return this.need(ctx, scopes.deltaUsers, nowMs) ?? this.delta('users', call, tenant, nowMs);
        }
        return this.userRoutes(call, ctx, key, sub, more, nowMs);
      case 'groups':
        if (key === undefined) {
          if (m === 'GET') return this.need(ctx, scopes.readGroups, nowMs) ?? this.listGroups(call, tenant, nowMs);
          if (m === 'POST') return this.need(ctx, scopes.writeGroups, nowMs, groupAdminRoles) ?? this.createGroup(call, tenant, nowMs);
          return methodNotAllowed(nowMs);
        }
        if (isDelta(key) && sub === undefined) {
          if (m !== 'GET') return methodNotAllowed(nowMs);
          return this.need(ctx, scopes.readGroups, nowMs) ?? this.delta('groups', call, tenant, nowMs);
        }
        return this.groupRoutes(call, ctx, key, sub, more, nowMs);
      case 'organization':
        if (m !== 'GET') return methodNotAllowed(nowMs);
        if (key !== undefined && key !== tenant.id) return notFound(key, nowMs);
        return key === undefined ? ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#organization`, value: [this.organization(tenant)] }) : ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#organization/$entity`, ...this.organization(tenant) });
      case 'domains':
        if (m !== 'GET') return methodNotAllowed(nowMs);
        return this.need(ctx, scopes.readDomains, nowMs) ?? this.domains(tenant, key, sub, nowMs);
      case 'subscribedSkus':
        if (m !== 'GET') return methodNotAllowed(nowMs);
        return this.need(ctx, scopes.readSkus, nowMs) ?? this.subscribedSkus(tenant, key, nowMs);
      case 'directory':
        if (key !== 'deletedItems') return graphError(400, 'BadRequest', `Resource not found for the segment '${key ?? ''}'.`, nowMs);
        return this.deletedItems(call, ctx, sub, more, nowMs);
      case 'directoryRoles':
        if (m !== 'GET') return methodNotAllowed(nowMs);
        if (key === undefined) return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryRoles`, value: tenant.roles.map((r) => roleView(r)) });
        return this.need(ctx, scopes.readRoles, nowMs) ?? this.roleMembers(call, tenant, key, sub, nowMs);
      default:
        return graphError(400, 'BadRequest', `Resource not found for the segment '${root ?? ''}'.`, nowMs);
    }
  }

  /** A 403 unless the token carries one of `anyScope` and (for writes) the user holds one of `roles`. */
  private need(ctx: AccessContext, anyScope: readonly string[], nowMs: number, roles?: ReadonlySet<string>): GraphResult | undefined {
    if (!anyScope.some((s) => ctx.scopes.has(s))) return forbidden(nowMs);
    if (roles) {
      const actor = ctx.tenant.users.get(ctx.userId);
      if (!actor || !actor.roles.some((r) => roles.has(r))) return forbidden(nowMs);
    }
    return undefined;
  }

  private userRoutes(call: GraphCall, ctx: AccessContext, key: string, sub: string | undefined, more: string[], nowMs: number): GraphResult {
    const tenant = ctx.tenant;
    const m = call.method;
    const self = key === ctx.userId;
    const user = tenant.findUser(key);
    const visible = user && tenant.isVisible(user, nowMs) ? user : undefined;
    if (sub === undefined) {
      if (m === 'GET') return (self ? undefined : this.need(ctx, scopes.readUsers, nowMs)) ?? (visible ? this.getUser(call, visible) : notFound(key, nowMs));
      if (m === 'PATCH') return this.need(ctx, scopes.writeUsers, nowMs, userAdminRoles) ?? (visible ? this.updateUser(call, ctx, tenant, visible, nowMs) : notFound(key, nowMs));
      if (m === 'DELETE') {
        const denied = this.need(ctx, scopes.writeUsers, nowMs, userAdminRoles);
        if (denied) return denied;
        if (!visible) return notFound(key, nowMs);
        tenant.deleteUser(visible, nowMs);
        return { status: 204 };
      }
      return methodNotAllowed(nowMs);
    }
    if (!visible) return notFound(key, nowMs);
    if (sub === 'manager') return this.managerRoutes(call, ctx, visible, more, nowMs);
    if (sub === 'assignLicense' || sub === 'microsoft.graph.assignLicense') {
      if (m !== 'POST') return methodNotAllowed(nowMs);
      return this.need(ctx, scopes.assignLicenses, nowMs, userAdminRoles) ?? this.assignLicense(call, tenant, visible, nowMs);
    }
    if (sub === 'revokeSignInSessions' || sub === 'microsoft.graph.revokeSignInSessions') {
      if (m !== 'POST') return methodNotAllowed(nowMs);
      const denied = this.need(ctx, scopes.revokeSessions, nowMs, sessionAdminRoles);
      if (denied) return denied;
      tenant.revokeUserSessions(visible, nowMs);
      return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#Edm.Boolean`, value: true });
    }
    if (sub === 'memberOf' || sub === 'transitiveMemberOf') {
      if (m !== 'GET') return methodNotAllowed(nowMs);
      const cast = more[0];
      const groups = cast === undefined || cast === 'microsoft.graph.group' ? [...tenant.groupIdsOf(visible.id)].map((id) => tenant.groups.get(id)).filter((g): g is GroupRecord => g !== undefined && tenant.isVisible(g, nowMs)) : [];
      const roles = cast === undefined || cast === 'microsoft.graph.directoryRole' ? tenant.roles.filter((r) => visible.roles.includes(r.roleTemplateId)) : [];
      if (cast !== undefined && cast !== 'microsoft.graph.group' && cast !== 'microsoft.graph.directoryRole') return notFound(cast, nowMs);
      const contextName = cast === 'microsoft.graph.directoryRole' ? 'directoryRoles' : cast === 'microsoft.graph.group' ? 'groups' : 'directoryObjects';
      return ok({
        '@odata.context': `${this.graphBase}/v1.0/$metadata#${contextName}`,
        value: [...groups.map((g) => ({ '@odata.type': '#microsoft.graph.group', ...this.groupView(g, undefined) })), ...roles.map((r) => roleView(r))],
      });
    }
    return graphError(400, 'BadRequest', `Resource not found for the segment '${sub}'.`, nowMs);
  }

  /** `GET /directoryRoles/{id or roleTemplateId=...}` and its `members` (users holding the role). */
  private roleMembers(call: GraphCall, tenant: TenantDirectory, key: string, sub: string | undefined, nowMs: number): GraphResult {
    const templateKey = /^roleTemplateId=(.+)$/.exec(key)?.[1];
    const role = tenant.roles.find((r) => (templateKey === undefined ? r.id === key.toLowerCase() : r.roleTemplateId === templateKey.toLowerCase()));
    if (!role) return notFound(key, nowMs);
    if (sub === undefined) return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryRoles/$entity`, ...roleView(role) });
    if (sub !== 'members') return graphError(400, 'BadRequest', `Resource not found for the segment '${sub}'.`, nowMs);
    const select = parseSelect(call.query.get('$select'), userSelectable, 'microsoft.graph.user');
    const holders = tenant.userOrder.filter((u) => u.roles.includes(role.roleTemplateId));
    return this.page(call, `directoryRoles/${role.id}/members`, select, nowMs, holders, (u) => tenant.isVisible(u, nowMs), (u) => ({ '@odata.type': '#microsoft.graph.user', ...this.userView(u, select) }), 'directoryObjects');
  }

  private managerRoutes(call: GraphCall, ctx: AccessContext, user: UserRecord, more: string[], nowMs: number): GraphResult {
    const tenant = ctx.tenant;
    const ref = more[0] === '$ref';
    if (call.method === 'GET') {
      const manager = user.managerId ? tenant.findUser(user.managerId) : undefined;
      if (!manager) return notFound('manager', nowMs);
      if (ref) return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryObjects/$entity`, '@odata.id': `${this.graphBase}/v2/${tenant.id}/directoryObjects/${manager.id}/Microsoft.DirectoryServices.User` });
      return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryObjects/$entity`, '@odata.type': '#microsoft.graph.user', ...this.userView(manager, undefined) });
    }
    if (!ref) return methodNotAllowed(nowMs);
    const denied = this.need(ctx, scopes.writeUsers, nowMs, userAdminRoles);
    if (denied) return denied;
    if (call.method === 'DELETE') {
      if (!user.managerId) return notFound('manager', nowMs);
      tenant.setManager(user, null);
      return { status: 204 };
    }
    if (call.method !== 'PUT') return methodNotAllowed(nowMs);
    const target = referencedId(call.body);
    if (!target) return badRequest(`Invalid object identifier '${isRecord(call.body) ? String(call.body['@odata.id'] ?? '') : ''}'.`, nowMs);
    const manager = tenant.findUser(target);
    if (!manager) return notFound(target, nowMs);
    if (manager.id === user.id) return badRequest('A user cannot be its own manager.', nowMs);
    if (user.managerId !== manager.id) tenant.setManager(user, manager.id);
    return { status: 204 };
  }

  private groupRoutes(call: GraphCall, ctx: AccessContext, key: string, sub: string | undefined, more: string[], nowMs: number): GraphResult {
    const tenant = ctx.tenant;
    const m = call.method;
    const group = tenant.findGroup(key);
    const visible = group && tenant.isVisible(group, nowMs) ? group : undefined;
    if (sub === undefined) {
      if (m === 'GET') return this.need(ctx, scopes.readGroups, nowMs) ?? (visible ? ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#groups/$entity`, ...this.groupView(visible, parseSelect(call.query.get('$select'), groupSelectable, 'microsoft.graph.group')) }) : notFound(key, nowMs));
      if (m === 'PATCH') return this.need(ctx, scopes.writeGroups, nowMs, groupAdminRoles) ?? (visible ? this.updateGroup(call, tenant, visible, nowMs) : notFound(key, nowMs));
      if (m === 'DELETE') {
        const denied = this.need(ctx, scopes.writeGroups, nowMs, groupAdminRoles);
        if (denied) return denied;
        if (!visible) return notFound(key, nowMs);
        tenant.deleteGroup(visible, nowMs);
        return { status: 204 };
      }
      return methodNotAllowed(nowMs);
    }
    if (sub !== 'members') return graphError(400, 'BadRequest', `Resource not found for the segment '${sub}'.`, nowMs);
    if (!visible) return notFound(key, nowMs);
    if (more.length === 0 && m === 'GET') return this.need(ctx, scopes.readGroups, nowMs) ?? this.listMembers(call, tenant, visible, nowMs);
    if (more.length === 1 && more[0] === '$ref' && m === 'POST') {
      const denied = this.need(ctx, scopes.writeMembers, nowMs, groupAdminRoles);
      if (denied) return denied;
      const target = referencedId(call.body);
      if (!target) return badRequest(`Invalid object identifier '${isRecord(call.body) ? String(call.body['@odata.id'] ?? '') : ''}'.`, nowMs);
      const member = tenant.findUser(target);
      if (!member) return notFound(target, nowMs);
      if (!tenant.addMember(visible, member.id)) return badRequest("One or more added object references already exist for the following modified properties: 'members'.", nowMs);
      return { status: 204 };
    }
    if (more.length === 2 && more[1] === '$ref' && m === 'DELETE') {
      const denied = this.need(ctx, scopes.writeMembers, nowMs, groupAdminRoles);
      if (denied) return denied;
      const memberId = (more[0] ?? '').toLowerCase();
      if (!tenant.removeMember(visible, memberId)) {
        return graphError(404, 'Request_ResourceNotFound', "One or more removed object references do not exist for the following modified properties: 'members'.", nowMs);
      }
      return { status: 204 };
    }
    return methodNotAllowed(nowMs);
  }

  /**
   * `directory/deletedItems` for users (directory-deleteditems-*.md): list them through the
   * `microsoft.graph.user` cast, read one, restore one with its object id. Entra keeps them 30
   * days; after that they are gone (404).
   */
  private deletedItems(call: GraphCall, ctx: AccessContext, key: string | undefined, more: string[], nowMs: number): GraphResult {
    const tenant = ctx.tenant;
    const m = call.method;
    const deletedView = (user: UserRecord) => ({
      '@odata.type': '#microsoft.graph.user',
      ...this.userView(user, undefined),
      deletedDateTime: new Date(user.deletedAtMs ?? nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
    if (key === 'microsoft.graph.user' && more.length === 0) {
      if (m !== 'GET') return methodNotAllowed(nowMs);
      const denied = this.need(ctx, scopes.readUsers, nowMs);
      if (denied) return denied;
      const deleted = tenant.userOrder.filter((u) => tenant.deletedUser(u.id, nowMs) !== undefined);
      return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryObjects`, value: deleted.map(deletedView) });
    }
    if (key === undefined) return methodNotAllowed(nowMs);
    const user = tenant.deletedUser(key, nowMs);
    if (more.length === 0) {
      if (m !== 'GET') return methodNotAllowed(nowMs);
      return this.need(ctx, scopes.readUsers, nowMs) ?? (user ? ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryObjects/$entity`, ...deletedView(user) }) : notFound(key, nowMs));
    }
    if (more.length !== 1 || (more[0] !== 'restore' && more[0] !== 'microsoft.graph.restore')) return graphError(400, 'BadRequest', `Resource not found for the segment '${more.join('/')}'.`, nowMs);
    if (m !== 'POST') return methodNotAllowed(nowMs);
    const denied = this.need(ctx, scopes.writeUsers, nowMs, userAdminRoles);
    if (denied) return denied;
    if (!user) return notFound(key, nowMs);
    if (tenant.upnTaken(String(user.props.userPrincipalName))) {
      return badRequest('Another object with the same value for property userPrincipalName already exists.', nowMs, [{ target: 'userPrincipalName', code: 'ObjectConflict' }]);
    }
    tenant.undeleteUser(user);
    return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#directoryObjects/$entity`, '@odata.type': '#microsoft.graph.user', ...this.userView(user, undefined) });
  }

  userView(user: UserRecord, select: readonly string[] | undefined): Record<string, unknown> {
    const view: Record<string, unknown> = {};
    for (const name of select ?? defaultUserSelect) {
      view[name] = name === 'id' ? user.id : name === 'assignedLicenses' ? (user.assignedLicenses ?? []).map((l) => ({ disabledPlans: [...l.disabledPlans], skuId: l.skuId })) : (user.props[name] ?? null);
    }
    return view;
  }

  /** subscribedsku-list.md: every product with its seats; consumption counts live users holding it. */
  private subscribedSkus(tenant: TenantDirectory, key: string | undefined, nowMs: number): GraphResult {
    const view = (sku: SandboxSku) => ({
      accountName: tenant.displayName,
      accountId: tenant.id,
      appliesTo: 'User',
      capabilityStatus: 'Enabled',
      consumedUnits: tenant.consumedUnits(sku.skuId),
      id: `${tenant.id}_${sku.skuId}`,
      prepaidUnits: { enabled: sku.enabled, suspended: 0, warning: 0, lockedOut: 0 },
      servicePlans: sku.servicePlans.map((p) => ({ servicePlanId: p.servicePlanId, servicePlanName: p.servicePlanName, provisioningStatus: 'Success', appliesTo: 'User' })),
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      subscriptionIds: [stableGuid(tenant.id, 'subscription', sku.skuId)],
    });
    if (key === undefined) return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#subscribedSkus`, value: tenant.skus.map(view) });
    const sku = tenant.skus.find((s) => `${tenant.id}_${s.skuId}` === key);
    return sku ? ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#subscribedSkus/$entity`, ...view(sku) }) : notFound(key, nowMs);
  }

  /**
   * user-assignlicense.md, with the refusals Entra answers as 400 Request_BadRequest: no usage
   * location, an unknown SKU, no free seat, mutually exclusive service plans.
   */
  private assignLicense(call: GraphCall, tenant: TenantDirectory, user: UserRecord, nowMs: number): GraphResult {
    const body = call.body;
    if (!isRecord(body) || !Array.isArray(body.addLicenses) || !Array.isArray(body.removeLicenses)) {
      return badRequest("Invalid request body: 'addLicenses' and 'removeLicenses' are required collections.", nowMs);
    }
    const add: SandboxAssignedLicense[] = [];
    for (const item of body.addLicenses as unknown[]) {
      if (!isRecord(item) || typeof item.skuId !== 'string') return badRequest("Invalid value for 'addLicenses'.", nowMs);
      const disabledPlans = Array.isArray(item.disabledPlans) ? item.disabledPlans.map((p) => String(p).toLowerCase()) : [];
      add.push({ skuId: item.skuId.toLowerCase(), disabledPlans });
    }
    const remove = (body.removeLicenses as unknown[]).map((id) => String(id).toLowerCase());
    for (const skuId of [...add.map((l) => l.skuId), ...remove]) {
      if (!tenant.skus.some((s) => s.skuId === skuId)) return badRequest(`License ${skuId} does not correspond to a valid company License.`, nowMs);
    }
    if (add.length > 0 && (user.props.usageLocation ?? null) === null) return badRequest('License assignment cannot be done for user with invalid usage location.', nowMs);
    const current = user.assignedLicenses ?? [];
    for (const license of add) {
      const sku = tenant.skus.find((s) => s.skuId === license.skuId) as SandboxSku;
      const held = current.some((l) => l.skuId === license.skuId);
      if (!held && tenant.consumedUnits(sku.skuId) >= sku.enabled) return badRequest(`Subscription with SKU ${sku.skuId} does not have any available licenses.`, nowMs);
    }
    const next = [...current.filter((l) => !remove.includes(l.skuId) && !add.some((a) => a.skuId === l.skuId)), ...add];
    const conflict = conflictingPlans(tenant.skus, next);
    if (conflict) return badRequest(`License assignment failed because service plans ${conflict[0]},${conflict[1]} are mutually exclusive.`, nowMs);
    tenant.setLicenses(user, next);
    return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#users/$entity`, ...this.userView(user, undefined) });
  }

  groupView(group: GroupRecord, select: readonly string[] | undefined): Record<string, unknown> {
    if (!select) return { id: group.id, deletedDateTime: null, ...group.props };
    const view: Record<string, unknown> = {};
    for (const name of select) view[name] = name === 'id' ? group.id : (group.props[name] ?? null);
    return view;
  }

  private getUser(call: GraphCall, user: UserRecord): GraphResult {
    const select = parseSelect(call.query.get('$select'), userSelectable, 'microsoft.graph.user');
    return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#users${select ? `(${select.join(',')})` : ''}/$entity`, ...this.userView(user, select) });
  }

  private listUsers(call: GraphCall, tenant: TenantDirectory, nowMs: number): GraphResult {
    const select = parseSelect(call.query.get('$select'), userSelectable, 'microsoft.graph.user');
    const expand = parseUserExpand(call.query.get('$expand'), userSelectable);
    const filterText = call.query.get('$filter');
    const filter = filterText ? parseFilter(filterText, filterableUserProperties, 'User') : undefined;
    const read = (user: UserRecord) => (p: string) => (p === 'id' ? user.id : user.props[p]);
    const candidates = filter ? this.pinnedUsers(tenant, filter) : undefined;
    const view = expand === undefined ? (u: UserRecord) => this.userView(u, select) : (u: UserRecord) => this.withManager(tenant, u, select, expand.select, nowMs);
    return this.page(call, 'users', select, nowMs, candidates ?? tenant.userOrder, (u) => tenant.isVisible(u, nowMs) && (!filter || matchesFilter(filter, read(u))), view);
  }

  /** A user with `$expand=manager`: Graph leaves `manager` out when the user has none. */
  private withManager(tenant: TenantDirectory, user: UserRecord, select: readonly string[] | undefined, managerSelect: readonly string[] | undefined, nowMs: number): Record<string, unknown> {
    const view = this.userView(user, select);
    const manager = user.managerId ? tenant.findUser(user.managerId) : undefined;
    if (manager && tenant.isVisible(manager, nowMs)) view.manager = { '@odata.type': '#microsoft.graph.user', ...this.userView(manager, managerSelect) };
    return view;
  }

  private pinnedUsers(tenant: TenantDirectory, filter: FilterNode): UserRecord[] | undefined {
    const pinned = pinnedValues(filter, indexedUserProperties);
    if (!pinned) return undefined;
    const found = new Set<UserRecord>();
    for (const value of pinned.values) {
      if (typeof value !== 'string') continue;
      const user = pinned.property === 'mail' ? tenant.findUserByMail(value) : tenant.findUser(value);
      if (user && (pinned.property !== 'id' || user.id === value.toLowerCase())) found.add(user);
      if (pinned.property === 'mail' && !user) {
        for (const candidate of tenant.userOrder) if (typeof candidate.props.mail === 'string' && candidate.props.mail.toLowerCase() === value.toLowerCase()) found.add(candidate);
      }
    }
    return [...found].sort((a, b) => a.createdSeq - b.createdSeq);
  }

  private listGroups(call: GraphCall, tenant: TenantDirectory, nowMs: number): GraphResult {
    const select = parseSelect(call.query.get('$select'), groupSelectable, 'microsoft.graph.group');
    const filterText = call.query.get('$filter');
    const filter = filterText ? parseFilter(filterText, filterableGroupProperties, 'Group') : undefined;
    let candidates: readonly GroupRecord[] = tenant.groupOrder;
    const pinned = filter ? pinnedValues(filter, indexedGroupProperties) : undefined;
    if (pinned) candidates = pinned.values.map((v) => (typeof v === 'string' ? tenant.findGroup(v) : undefined)).filter((g): g is GroupRecord => g !== undefined);
    return this.page(call, 'groups', select, nowMs, candidates, (g) => tenant.isVisible(g, nowMs) && (!filter || matchesFilter(filter, (p) => (p === 'id' ? g.id : g.props[p]))), (g) => this.groupView(g, select));
  }

  private listMembers(call: GraphCall, tenant: TenantDirectory, group: GroupRecord, nowMs: number): GraphResult {
    const select = parseSelect(call.query.get('$select'), userSelectable, 'microsoft.graph.user');
    const members = [...group.members].map((id) => tenant.users.get(id)).filter((u): u is UserRecord => u !== undefined).sort((a, b) => a.createdSeq - b.createdSeq);
    return this.page(call, `groups/${group.id}/members`, select, nowMs, members, (u) => tenant.isVisible(u, nowMs), (u) => ({ '@odata.type': '#microsoft.graph.user', ...this.userView(u, select) }), 'directoryObjects');
  }

  /** One page of a collection; `$skiptoken` is the scan position, `@odata.nextLink` repeats the query. */
  private page<T>(call: GraphCall, path: string, select: string[] | undefined, nowMs: number, source: readonly T[], include: (item: T) => boolean, view: (item: T) => Record<string, unknown>, contextName?: string): GraphResult {
    const top = parseTop(call.query.get('$top'), 100);
    const skip = call.query.get('$skiptoken');
    let pos = 0;
    if (skip !== null) {
      const decoded = Number(Buffer.from(skip, 'base64url').toString('utf8').replace(/^pos:/, ''));
      if (!Number.isInteger(decoded) || decoded < 0) return graphError(400, 'Directory_ExpiredPageToken', 'The specified page token value has expired and can no longer be included in your request.', nowMs);
      pos = decoded;
    }
    const value: Record<string, unknown>[] = [];
    while (pos < source.length && value.length < top) {
      const item = source[pos] as T;
      pos += 1;
      if (include(item)) value.push(view(item));
    }
    let more = false;
    for (let i = pos; i < source.length; i += 1) {
      if (include(source[i] as T)) {
        more = true;
        break;
      }
    }
    const body: Record<string, unknown> = { '@odata.context': `${this.graphBase}/v1.0/$metadata#${contextName ?? path}${select ? `(${select.join(',')})` : ''}` };
    if (more) {
      const params = [...call.query.entries()].filter(([k]) => k !== '$skiptoken').map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
      params.push(`$skiptoken=${Buffer.from(`pos:${pos}`, 'utf8').toString('base64url')}`);
      body['@odata.nextLink'] = `${this.graphBase}/v1.0/${path}?${params.join('&')}`;
    }
    body.value = value;
    return ok(body);
  }

  private delta(kind: 'users' | 'groups', call: GraphCall, tenant: TenantDirectory, nowMs: number): GraphResult {
    const select = kind === 'users' ? parseSelect(call.query.get('$select'), userDeltaSelectable, 'microsoft.graph.user') : parseSelect(call.query.get('$select'), groupDeltaSelectable, 'microsoft.graph.group');
    return deltaRound({
      kind,
      tenant,
      query: call.query,
      select,
      graphBase: this.graphBase,
      nowMs,
      timeScale: this.timeScale,
      userView: (u, s) => this.userView(u, s),
      groupView: (g, s) => this.groupView(g, s),
    });
  }

  private createUser(call: GraphCall, tenant: TenantDirectory, nowMs: number): GraphResult {
    const body = call.body;
    if (!isRecord(body)) return badRequest('Empty Payload. JSON content expected.', nowMs);
    const unknown = Object.keys(body).find((k) => !writableUserProperties.has(k) && k !== 'passwordProfile' && !k.startsWith('@odata'));
    if (unknown) return badRequest(`Property '${unknown}' does not exist as a declared property or extension property.`, nowMs);
    for (const required of ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName']) {
      const value = body[required];
      if (value === undefined || value === null || value === '') return badRequest(`Property ${required} value is required but is empty or missing.`, nowMs);
    }
    const invalid = this.validateUserValues(body, nowMs);
    if (invalid) return invalid;
    const upn = String(body.userPrincipalName);
    const domainCheck = this.checkUpnDomain(tenant, upn, body, nowMs);
    if (domainCheck) return domainCheck;
    const profile = body.passwordProfile;
    if (!isRecord(profile) || typeof profile.password !== 'string' || profile.password === '') return badRequest('A password must be specified to create a new user.', nowMs);
    if (!passwordComplies(profile.password)) return badRequest('The specified password does not comply with password complexity requirements. Please provide a different password.', nowMs);
    if (tenant.upnTaken(upn)) {
      return badRequest('Another object with the same value for property userPrincipalName already exists.', nowMs, [{ target: 'userPrincipalName', code: 'ObjectConflict' }]);
    }
    if (typeof body.mail === 'string' && tenant.findUserByMail(body.mail)) {
      return badRequest('Another object with the same value for property proxyAddresses already exists.', nowMs, [{ target: 'proxyAddresses', code: 'ObjectConflict' }]);
    }
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (writableUserProperties.has(k)) values[k] = v;
    const user = tenant.createUser(newUserProps({ ...values, createdDateTime: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'), userType: 'Member' }), { visibleAtMs: nowMs + this.replicationLagMs() });
    return {
      status: 201,
      headers: { location: `${this.graphBase}/v2/${tenant.id}/directoryObjects/${user.id}/Microsoft.DirectoryServices.User` },
      body: { '@odata.context': `${this.graphBase}/v1.0/$metadata#users/$entity`, ...this.userView(user, undefined) },
    };
  }

  private validateUserValues(body: Record<string, unknown>, nowMs: number): GraphResult | undefined {
    if ('accountEnabled' in body && typeof body.accountEnabled !== 'boolean') return invalidValue('accountEnabled', nowMs);
    if ('userPrincipalName' in body && (typeof body.userPrincipalName !== 'string' || !upnPattern.test(body.userPrincipalName))) {
      return badRequest('Property userPrincipalName is invalid.', nowMs, [{ target: 'userPrincipalName', code: 'InvalidValue' }]);
    }
    if ('mailNickname' in body && (typeof body.mailNickname !== 'string' || !mailNicknamePattern.test(body.mailNickname))) {
      return badRequest("Invalid value specified for property 'mailNickname' of resource 'User'.", nowMs, [{ target: 'mailNickname', code: 'InvalidValue' }]);
    }
    if ('displayName' in body && (typeof body.displayName !== 'string' || body.displayName.length > 256)) return invalidValue('displayName', nowMs);
    for (const list of ['businessPhones', 'otherMails']) {
      if (list in body && (!Array.isArray(body[list]) || !(body[list] as unknown[]).every((v) => typeof v === 'string'))) return invalidValue(list, nowMs);
    }
    if ('usageLocation' in body && body.usageLocation !== null && (typeof body.usageLocation !== 'string' || !/^[A-Z]{2}$/.test(body.usageLocation))) return invalidValue('usageLocation', nowMs);
    if ('employeeOrgData' in body && body.employeeOrgData !== null && !isRecord(body.employeeOrgData)) return invalidValue('employeeOrgData', nowMs);
    return undefined;
  }

  /** The UPN's domain must be a verified domain of the tenant; federated domains need onPremisesImmutableId. */
  private checkUpnDomain(tenant: TenantDirectory, upn: string, body: Record<string, unknown>, nowMs: number): GraphResult | undefined {
    const domain = tenant.domain(upn.slice(upn.lastIndexOf('@') + 1));
    if (!domain || !domain.isVerified) {
      return badRequest('The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.', nowMs, [{ target: 'userPrincipalName', code: 'InvalidValue' }]);
    }
    if (domain.authenticationType === 'Federated' && (typeof body.onPremisesImmutableId !== 'string' || body.onPremisesImmutableId === '')) {
      return badRequest('One or more properties contains invalid values.', nowMs);
    }
    return undefined;
  }

  private updateUser(call: GraphCall, ctx: AccessContext, tenant: TenantDirectory, user: UserRecord, nowMs: number): GraphResult {
    const body = call.body;
    if (!isRecord(body)) return badRequest('Empty Payload. JSON content expected.', nowMs);
    const unknown = Object.keys(body).find((k) => !writableUserProperties.has(k) && k !== 'passwordProfile' && !k.startsWith('@odata'));
    if (unknown) return badRequest(`Property '${unknown}' does not exist as a declared property or extension property.`, nowMs);
    const invalid = this.validateUserValues(body, nowMs);
    if (invalid) return invalid;
    // user-update.md: sensitive properties of a user holding a privileged role need Directory.AccessAsUser.All (delegated).
    if (user.roles.some((r) => privilegedRoleTemplateIds.has(r)) && Object.keys(body).some((k) => sensitiveUserProperties.has(k)) && !ctx.scopes.has('directory.accessasuser.all')) return forbidden(nowMs);
    if (typeof body.userPrincipalName === 'string' && body.userPrincipalName.toLowerCase() !== String(user.props.userPrincipalName).toLowerCase()) {
      const domainCheck = this.checkUpnDomain(tenant, body.userPrincipalName, { onPremisesImmutableId: body.onPremisesImmutableId ?? user.props.onPremisesImmutableId }, nowMs);
      if (domainCheck) return domainCheck;
      if (tenant.upnTaken(body.userPrincipalName)) {
        return badRequest('Another object with the same value for property userPrincipalName already exists.', nowMs, [{ target: 'userPrincipalName', code: 'ObjectConflict' }]);
      }
    }
    if (typeof body.mail === 'string') {
      const holder = tenant.findUserByMail(body.mail);
      if (holder && holder.id !== user.id) return badRequest('Another object with the same value for property proxyAddresses already exists.', nowMs, [{ target: 'proxyAddresses', code: 'ObjectConflict' }]);
    }
    let passwordChanged = false;
    if ('passwordProfile' in body) {
      const profile = body.passwordProfile;
      const upnDomain = tenant.domain(String(user.props.userPrincipalName).split('@')[1] ?? '');
      // passwordProfile "cannot be used for federated users" (user-update.md): the federation IdP owns the password.
      if (upnDomain?.authenticationType === 'Federated') return badRequest('One or more properties contains invalid values.', nowMs);
      if (!isRecord(profile) || typeof profile.password !== 'string' || !passwordComplies(profile.password)) {
        return badRequest('The specified password does not comply with password complexity requirements. Please provide a different password.', nowMs);
      }
      passwordChanged = true;
    }
    const changes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (writableUserProperties.has(k)) changes[k] = v;
    if (Object.keys(changes).length > 0) tenant.updateUser(user, changes);
    if (passwordChanged) tenant.revokeUserSessions(user, nowMs);
    return { status: 204 };
  }

  private createGroup(call: GraphCall, tenant: TenantDirectory, nowMs: number): GraphResult {
    const body = call.body;
    if (!isRecord(body)) return badRequest('Empty Payload. JSON content expected.', nowMs);
    const unknown = Object.keys(body).find((k) => !writableGroupProperties.has(k) && k !== 'members@odata.bind' && k !== 'owners@odata.bind' && !k.startsWith('@odata'));
    if (unknown) return badRequest(`Property '${unknown}' does not exist as a declared property or extension property.`, nowMs);
    for (const required of ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled']) {
      const value = body[required];
      if (value === undefined || value === null || value === '') return badRequest(`Property ${required} value is required but is empty or missing.`, nowMs);
    }
    if (typeof body.mailNickname !== 'string' || !mailNicknamePattern.test(body.mailNickname)) {
      return badRequest("Invalid value specified for property 'mailNickname' of resource 'Group'.", nowMs, [{ target: 'mailNickname', code: 'InvalidValue' }]);
    }
    const unified = Array.isArray(body.groupTypes) && body.groupTypes.includes('Unified');
    if (body.mailEnabled === true && !unified) {
      return badRequest('The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false.', nowMs);
    }
    const members = this.bindIds(tenant, body['members@odata.bind']);
    if (!Array.isArray(members)) return members;
    const created = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (writableGroupProperties.has(k)) values[k] = v;
    const defaultDomain = tenant.domains.find((d) => d.isDefault)?.id ?? '';
    const group = tenant.createGroup(
      newGroupProps({ ...values, createdDateTime: created, renewedDateTime: created, mail: unified ? `${String(body.mailNickname)}@${defaultDomain}` : null, securityIdentifier: `S-1-12-1-${Math.floor(Math.random() * 2 ** 31)}` }),
      { visibleAtMs: nowMs + this.replicationLagMs() },
    );
    for (const id of members) tenant.addMember(group, id);
    return { status: 201, body: { '@odata.context': `${this.graphBase}/v1.0/$metadata#groups/$entity`, ...this.groupView(group, undefined) } };
  }

  private updateGroup(call: GraphCall, tenant: TenantDirectory, group: GroupRecord, nowMs: number): GraphResult {
    const body = call.body;
    if (!isRecord(body)) return badRequest('Empty Payload. JSON content expected.', nowMs);
    const unknown = Object.keys(body).find((k) => !writableGroupProperties.has(k) && k !== 'members@odata.bind' && !k.startsWith('@odata'));
    if (unknown) return badRequest(`Property '${unknown}' does not exist as a declared property or extension property.`, nowMs);
    const members = this.bindIds(tenant, body['members@odata.bind']);
    if (!Array.isArray(members)) return members;
    if (members.some((id) => group.members.has(id))) return badRequest("One or more added object references already exist for the following modified properties: 'members'.", nowMs);
    const changes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (writableGroupProperties.has(k)) changes[k] = v;
    if (Object.keys(changes).length > 0) tenant.updateGroup(group, changes);
    for (const id of members) tenant.addMember(group, id);
    return { status: 204 };
  }

  /** Resolves `members@odata.bind` URLs to user ids (Graph allows up to 20 per request). */
  private bindIds(tenant: TenantDirectory, binds: unknown): string[] | GraphResult {
    const nowMs = this.clock.now().getTime();
    if (binds === undefined) return [];
    if (!Array.isArray(binds)) return badRequest("Invalid value for 'members@odata.bind'.", nowMs);
    if (binds.length > 20) return badRequest('A maximum of 20 members can be added in a single request.', nowMs);
    const ids: string[] = [];
    for (const bind of binds) {
      const id = referencedId({ '@odata.id': bind });
      if (!id) return badRequest(`Invalid object identifier '${String(bind)}'.`, nowMs);
      const user = tenant.findUser(id);
      if (!user) return notFound(id, nowMs);
      ids.push(user.id);
    }
    return ids;
  }

  private organization(tenant: TenantDirectory): Record<string, unknown> {
    return {
      id: tenant.id,
      deletedDateTime: null,
      businessPhones: ['+1 425 555 0100'],
      city: 'Redmond',
      country: null,
      countryLetterCode: 'US',
      createdDateTime: tenant.createdDateTime,
      displayName: tenant.displayName,
      marketingNotificationEmails: [],
      onPremisesLastSyncDateTime: null,
      onPremisesSyncEnabled: null,
      postalCode: '98052',
      preferredLanguage: 'en',
      privacyProfile: null,
      securityComplianceNotificationMails: [],
      securityComplianceNotificationPhones: [],
      state: 'WA',
      street: '1 Sandbox Way',
      technicalNotificationMails: [`admin@${tenant.domains.find((d) => d.isDefault)?.id ?? ''}`],
      tenantType: 'AAD',
      directorySizeQuota: { used: tenant.liveUserCount + tenant.groups.size, total: 300000 },
      assignedPlans: [],
      provisionedPlans: [],
      verifiedDomains: tenant.domains
        .filter((d) => d.isVerified)
        .map((d) => ({ capabilities: 'Email, OfficeCommunicationsOnline', isDefault: d.isDefault, isInitial: d.isInitial, name: d.id, type: d.authenticationType })),
    };
  }

  private domains(tenant: TenantDirectory, key: string | undefined, sub: string | undefined, nowMs: number): GraphResult {
    const view = (d: (typeof tenant.domains)[number]) => ({
      authenticationType: d.authenticationType,
      availabilityStatus: null,
      id: d.id,
      isAdminManaged: true,
      isDefault: d.isDefault,
      isInitial: d.isInitial,
      isRoot: true,
      isVerified: d.isVerified,
      supportedServices: d.isVerified ? ['Email', 'OfficeCommunicationsOnline'] : [],
      passwordValidityPeriodInDays: 2147483647,
      passwordNotificationWindowInDays: 14,
      state: null,
    });
    if (key === undefined) return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#domains`, value: tenant.domains.map(view) });
    const domain = tenant.domain(key);
    if (!domain) return notFound(key, nowMs);
    if (sub === undefined) return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#domains/$entity`, ...view(domain) });
    if (sub !== 'federationConfiguration') return graphError(400, 'BadRequest', `Resource not found for the segment '${sub}'.`, nowMs);
    const federation = domain.federation ? [{ '@odata.type': '#microsoft.graph.internalDomainFederation', ...domain.federation }] : [];
    return ok({ '@odata.context': `${this.graphBase}/v1.0/$metadata#domains('${domain.id}')/federationConfiguration`, value: federation });
  }
}

function roleView(role: { id: string; roleTemplateId: string; displayName: string; description: string }): Record<string, unknown> {
  return { '@odata.type': '#microsoft.graph.directoryRole', id: role.id, deletedDateTime: null, description: role.description, displayName: role.displayName, roleTemplateId: role.roleTemplateId };
}

function isDelta(segment: string): boolean {
  return segment === 'delta' || segment === 'delta()' || segment === 'microsoft.graph.delta' || segment === 'microsoft.graph.delta()';
}

function ok(body: unknown): GraphResult {
  return { status: 200, body };
}

function methodNotAllowed(nowMs: number): GraphResult {
  return graphError(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.', nowMs);
}

function invalidValue(property: string, nowMs: number): GraphResult {
  return badRequest(`Invalid value specified for property '${property}' of resource 'User'.`, nowMs, [{ target: property, code: 'InvalidValue' }]);
}

/** The object id at the end of an `@odata.id` reference URL (…/users/{id}, …/directoryObjects/{id}). */
function referencedId(body: unknown): string | undefined {
  if (!isRecord(body) || typeof body['@odata.id'] !== 'string') return undefined;
  const match = /\/(?:directoryObjects|users|groups)(?:\/|\(')([^/')]+)'?\)?$/.exec(body['@odata.id']);
  return match?.[1] ? decodeURIComponent(match[1]).toLowerCase() : undefined;
}
