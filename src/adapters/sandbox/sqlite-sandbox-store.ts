import path from 'node:path';
import { openDatabase } from '../sqlite/database';
import type { SandboxStore, StoredMemberEvent, StoredObject, StoredSnapshot, StoredTenant } from './sandbox-store';

/** The sandbox's own SQLite file (`<dataDir>/sandbox.db`), written through on every change. */
export function openSqliteSandboxStore(dataDir: string): SandboxStore {
  const db = openDatabase(path.join(dataDir, 'sandbox.db'));
  db.exec(`
    CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS objects (tenant_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (tenant_id, kind, id));
    CREATE TABLE IF NOT EXISTS member_events (tenant_id TEXT NOT NULL, seq INTEGER NOT NULL, group_id TEXT NOT NULL, member_id TEXT NOT NULL, removed INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS member_events_by_tenant ON member_events (tenant_id, seq);
    CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const putTenant = db.prepare('INSERT OR REPLACE INTO tenants (id, json) VALUES (?, ?)');
  const putObject = db.prepare('INSERT OR REPLACE INTO objects (tenant_id, kind, id, json) VALUES (?, ?, ?, ?)');
  const putEvent = db.prepare('INSERT INTO member_events (tenant_id, seq, group_id, member_id, removed) VALUES (?, ?, ?, ?, ?)');
  const putGrant = db.prepare('INSERT OR REPLACE INTO grants (id, json) VALUES (?, ?)');
  const putMeta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');

  return {
    persistent: true,
    load(): StoredSnapshot {
      const tenants = db.prepare('SELECT id, json FROM tenants').all() as StoredTenant[];
      const objects = (db.prepare('SELECT tenant_id, kind, id, json FROM objects ORDER BY rowid').all() as { tenant_id: string; kind: 'user' | 'group'; id: string; json: string }[])
        .map((row): StoredObject => ({ tenantId: row.tenant_id, kind: row.kind, id: row.id, json: row.json }));
      const memberEvents = (db.prepare('SELECT tenant_id, seq, group_id, member_id, removed FROM member_events ORDER BY tenant_id, seq').all() as { tenant_id: string; seq: number; group_id: string; member_id: string; removed: number }[])
        .map((row): StoredMemberEvent => ({ tenantId: row.tenant_id, seq: row.seq, groupId: row.group_id, memberId: row.member_id, removed: row.removed === 1 }));
      const grants = db.prepare('SELECT id, json FROM grants').all() as { id: string; json: string }[];
      const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((row) => [row.key, row.value]));
      return { tenants, objects, memberEvents, grants, meta };
    },
    saveTenant: (tenant) => void putTenant.run(tenant.id, tenant.json),
    saveObject: (object) => void putObject.run(object.tenantId, object.kind, object.id, object.json),
    appendMemberEvent: (event) => void putEvent.run(event.tenantId, event.seq, event.groupId, event.memberId, event.removed ? 1 : 0),
    saveGrant: (id, json) => void putGrant.run(id, json),
    saveMeta: (key, value) => void putMeta.run(key, value),
    transaction: (work) => db.transaction(work)(),
    clear: () => void db.exec('DELETE FROM tenants; DELETE FROM objects; DELETE FROM member_events; DELETE FROM grants;'),
    close: () => db.close(),
  };
}
