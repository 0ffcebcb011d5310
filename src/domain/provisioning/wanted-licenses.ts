import type { ConnectionRecord, LicenseSetting } from '../connections/connection';
import type { DocumentStore } from '../ports/document-store';
import type { UserBindingRecord } from './binding';
import { readGroupBinding } from './binding-records';

/** The licences a bound user should hold: the connection's, plus those of every bound group it is bound through. */
export async function wantedLicenses(store: DocumentStore, connection: ConnectionRecord, binding: UserBindingRecord): Promise<LicenseSetting[]> {
  const wanted: LicenseSetting[] = [...(connection.settings.licenses ?? [])];
  for (const groupId of binding.via.groups) {
    const group = await readGroupBinding(store, connection.id, groupId);
    if (group !== undefined && group.data.expansion !== 'unbinding') wanted.push(...(group.data.licenses ?? []));
  }
  return wanted;
}

/** Whether a run must read the account's licences: the connection or a group assigns some, or this service assigned some before. */
export function managesLicenses(connection: ConnectionRecord, binding: UserBindingRecord): boolean {
  return (connection.settings.licenses ?? []).length > 0 || binding.via.groups.length > 0 || (binding.licenses ?? []).length > 0;
}
