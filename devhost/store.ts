/**
 * SQLite state of one devhost: durable instances, history, work queues,
 * entities, Service Bus messages and timer-trigger status. Uses node:sqlite
 * (built into Node 22), so there is no native addon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const schema = `
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT,
  output TEXT,
  custom_status TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  parent_instance_id TEXT,
  parent_task_id INTEGER,
  engine TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created_ms);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  visible_ms INTEGER NOT NULL,
  timer_id INTEGER,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_instance ON inbox(instance_id, id);
CREATE INDEX IF NOT EXISTS inbox_visible ON inbox(visible_ms);
CREATE TABLE IF NOT EXISTS activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  input TEXT NOT NULL,
  running INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS entities (
  entity_id TEXT PRIMARY KEY,
  state TEXT,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entity_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  entity_id TEXT NOT NULL,
  request TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_queue_entity ON entity_queue(entity_id, id);
CREATE TABLE IF NOT EXISTS sb_subscriptions (
  topic TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (topic, name)
);
CREATE TABLE IF NOT EXISTS sb_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entity TEXT NOT NULL,
  dead_letter INTEGER NOT NULL DEFAULT 0,
  message_id TEXT NOT NULL,
  body BLOB NOT NULL,
  properties TEXT NOT NULL,
  enqueued_ms INTEGER NOT NULL,
  delivery_count INTEGER NOT NULL DEFAULT 0,
  locked_until_ms INTEGER NOT NULL DEFAULT 0,
  lock_token TEXT
);
CREATE INDEX IF NOT EXISTS sb_messages_entity ON sb_messages(entity, dead_letter, seq);
CREATE TABLE IF NOT EXISTS timer_status (
  function_name TEXT PRIMARY KEY,
  last_ms INTEGER,
  next_ms INTEGER,
  updated_ms INTEGER NOT NULL
);
`;

/** Opens (and creates) the state database in `stateDir`. */
export function openStore(stateDir: string): DatabaseSync {
  fs.mkdirSync(stateDir, { recursive: true });
  const db = new DatabaseSync(path.join(stateDir, 'devhost.sqlite'));
  // WAL with synchronous=NORMAL survives a killed process; only power loss can drop the last commits.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
  db.exec(schema);
  return db;
}

/** Runs `work` in one transaction; the transaction rolls back if it throws. */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
