import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** How long a statement waits for another connection's write lock before failing with SQLITE_BUSY. */
const busyTimeoutMs = 5000;

/**
 * SQLite's page cache, in KiB (negative `cache_size`). better-sqlite3 builds SQLite with 16 MB per
 * connection; pages beyond this are read back from the operating system's file cache, which holds
 * the file anyway. 4 MB keeps hot index pages in process and keeps 12 MB out of the service's RSS.
 */
const pageCacheKib = 4096;

/**
 * The database holds password hashes and personal data: its folder is created for the owner only
 * (0700) and the file too (0600), a file from an older version is narrowed to 0600, and SQLite
 * gives its -wal and -shm files the mode of the database file.
 */
function preparePrivateFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}

/**
 * Opens (creating folder and file if needed) the embedded database shared by the SQLite adapters.
 * WAL lets readers proceed during a write; synchronous=NORMAL is durable across process crashes
 * in WAL mode and only risks the last commits on power loss, which the local default accepts.
 */
export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') preparePrivateFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${pageCacheKib}`);
  return db;
}
