import type { User } from '../directory/user-schemas';
import { desiredAttributes, differingAttributes, type DesiredOptions, type ExportAttributeRule } from '../provisioning/attribute-mapping';
import type { M365User } from '../provisioning/m365-user-gateway';
import type { DeltaUser } from './m365-users-delta';

/**
 * The managed attributes (names only) in which an account, as a delta page reported it, differs
 * from what the directory wants. Only properties the page carries are compared: Graph reports an
 * updated user with at least its changed properties, not necessarily all selected ones.
 */
export function driftedAttributes(user: User, rules: ReadonlySet<ExportAttributeRule>, reported: DeltaUser, options: DesiredOptions = {}): string[] {
  const desired = desiredAttributes(user, rules, user.state === 'active', options);
  const comparable: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(desired)) {
    if (name in reported) comparable[name] = value;
  }
  return Object.keys(differingAttributes(comparable, reported as M365User));
}
