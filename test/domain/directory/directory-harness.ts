import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import type { DirectoryChange, DirectoryHooks, EmailChangeRefusal } from '../../../src/domain/directory/directory-hooks';
import type { PasswordDeps } from '../../../src/domain/directory/users';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import { err, ok, type Result } from '../../../src/domain/result';
import { ManualClock } from '../../support/manual-clock';

/** A clock tests move by hand. */

/** Hooks that record what they hear and can refuse email changes. */
export class RecordingHooks implements DirectoryHooks {
  readonly changes: DirectoryChange[] = [];
  readonly handedOff: { userId: string; password: string }[] = [];
  refuseEmailChanges: string | undefined;

  async onChange(change: DirectoryChange): Promise<void> {
    this.changes.push(change);
  }
  async checkEmailChange(): Promise<Result<void, EmailChangeRefusal>> {
    return this.refuseEmailChanges === undefined ? ok(undefined) : err({ reason: this.refuseEmailChanges });
  }
  async handOffPassword(userId: string, password: string): Promise<void> {
    this.handedOff.push({ userId, password });
  }
  types(): string[] {
    return this.changes.map((change) => change.type);
  }
}

export interface DirectoryHarness {
  readonly deps: PasswordDeps & { readonly clock: ManualClock; readonly directoryHooks: RecordingHooks };
  readonly store: DocumentStore;
  /** A second store on the same database file, as a second process would have. */
  openSecondStore(): DocumentStore;
  close(): Promise<void>;
}

/** Directory deps on a real SQLite store in a temporary folder. */
export function startDirectoryHarness(options: { passwordMinLength?: number } = {}): DirectoryHarness {
  const folder = mkdtempSync(join(tmpdir(), 'directory-'));
  const file = join(folder, 'm365-bridge.db');
  const clock = new ManualClock(Date.parse('2026-01-05T09:00:00.000Z'));
  const handles = [openDatabase(file)];
  const store = new SqliteDocumentStore(handles[0]!, { clock });
  const directoryHooks = new RecordingHooks();
  return {
    deps: { store, clock, directoryHooks, config: { passwordMinLength: options.passwordMinLength ?? 12 } },
    store,
    openSecondStore() {
      const db = openDatabase(file);
      handles.push(db);
      return new SqliteDocumentStore(db, { clock });
    },
    async close() {
      for (const db of handles) db.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** The value of an ok result; fails the test with the error otherwise. */
export function expectOk<T, E>(result: Result<T, E>): T {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The error of a failed result; fails the test when it succeeded. */
export function expectErr<T, E>(result: Result<T, E>): E {
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}
