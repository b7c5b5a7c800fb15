/**
 * Where the embedded stack's local queues keep their messages: one SQLite file shared by the queues
 * of a directory (`<data dir>/queues/queues.sqlite`), one row per message, its queue in a column.
 *
 * One file rather than one per queue: a queue's dead-letter queue is the queue `<name>-dlq` in the
 * same table, so moving a message to it is one atomic UPDATE (with a file per queue it would be an
 * insert in one file and a delete in the other, a duplicate if the process dies in between); and
 * the five queues of a data dir cost one connection, one WAL and one checkpoint instead of five.
 * They share one Node thread anyway, so separate files would not let them write in parallel.
 *
 * Every call is synchronous and commits before it returns (WAL, `synchronous = NORMAL`: `kill -9`
 * loses nothing acknowledged). The queues that open the same file in one process share one
 * connection, counted, and closed with the last of them.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openSqliteDatabase } from "./node-sqlite.js";

/** A message as a queue holds it in memory and in its row. */
export interface StoredMessage {
  /** SQS-shaped (a UUID); unique across the queues of a database. */
  messageId: string;
  /** The message as a JSON string, exactly what a record's `body` carries. */
  body: string;
  md5OfBody: string;
  sentAt: number;
  /** Not receivable before this instant (delay, or visibility timeout after a receive). */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The receipt of the latest receive (memory only: a restart ends every receipt). */
  receiptHandle?: string;
  deadAt?: number;
}

interface MessageRow {
  message_id: string;
  body: string;
  md5_of_body: string;
  sent_at: number;
  visible_at: number;
  receive_count: number;
  first_received_at: number | null;
  dead_at: number | null;
}

const columns =
  "message_id, body, md5_of_body, sent_at, visible_at, receive_count, first_received_at, dead_at";

/** Open databases by path, with the number of queues using each. */
const open = new Map<string, { database: LocalQueueDatabase; users: number }>();

export class LocalQueueDatabase {
  private readonly db: DatabaseSync;
  private readonly statements: {
    insert: StatementSync;
    insertIfAbsent: StatementSync;
    received: StatementSync;
    delete: StatementSync;
    move: StatementSync;
    load: StatementSync;
  };
  /** Send order across restarts: `sent_at` first, this counter for sends of the same millisecond. */
  private seq: number;

  /** The database at `path` (created if absent), shared with the queues that already opened it. */
  static open(path: string): LocalQueueDatabase {
    const entry = open.get(path) ?? { database: new LocalQueueDatabase(path), users: 0 };
    entry.users++;
    open.set(path, entry);
    return entry.database;
  }

  private constructor(private readonly path: string) {
    this.db = openSqliteDatabase(path);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS messages (
        message_id TEXT NOT NULL PRIMARY KEY,
        queue TEXT NOT NULL,
        seq INTEGER NOT NULL,
        body TEXT NOT NULL,
        md5_of_body TEXT NOT NULL,
        sent_at REAL NOT NULL,
        visible_at REAL NOT NULL,
        receive_count INTEGER NOT NULL,
        first_received_at REAL,
        dead_at REAL
      ) STRICT, WITHOUT ROWID;
    `);
    const values = `(${columns}, queue, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    this.statements = {
      insert: this.db.prepare(`INSERT INTO messages ${values}`),
      insertIfAbsent: this.db.prepare(`INSERT OR IGNORE INTO messages ${values}`),
      received: this.db.prepare(
        "UPDATE messages SET visible_at = ?, receive_count = ?, first_received_at = ? WHERE message_id = ?",
      ),
      delete: this.db.prepare("DELETE FROM messages WHERE message_id = ?"),
      move: this.db.prepare("UPDATE messages SET queue = ?, dead_at = ? WHERE message_id = ?"),
      // A startup read of a small table: a scan, rather than an index every write would maintain.
      load: this.db.prepare(`SELECT ${columns} FROM messages WHERE queue = ? ORDER BY sent_at, seq`),
    };
    const { last } = this.db.prepare("SELECT coalesce(max(seq), 0) AS last FROM messages").get() as {
      last: number;
    };
    this.seq = last;
  }

  /** Gives up one queue's use of the database; the last one closes it. */
  release(): void {
    const entry = open.get(this.path);
    if (entry?.database !== this) return;
    if (--entry.users > 0) return;
    open.delete(this.path);
    this.db.close();
  }

  /** A queue's messages in send order. */
  load(queue: string): StoredMessage[] {
    return (this.statements.load.all(queue) as unknown as MessageRow[]).map(fromRow);
  }

  insert(queue: string, message: StoredMessage): void {
    this.statements.insert.run(...this.row(queue, message));
  }

  /** Inserts in one transaction the messages whose id is not in the database yet (any queue). */
  insertIfAbsent(queue: string, messages: StoredMessage[]): void {
    this.transaction(() => {
      for (const message of messages) this.statements.insertIfAbsent.run(...this.row(queue, message));
    });
  }

  /** Records the receive of a batch (count, visibility), in one transaction. */
  saveReceives(messages: StoredMessage[]): void {
    this.transaction(() => {
      for (const message of messages)
        this.statements.received.run(
          message.visibleAt,
          message.receiveCount,
          message.firstReceivedAt ?? null,
          message.messageId,
        );
    });
  }

  delete(messageIds: string[]): void {
    this.transaction(() => {
      for (const messageId of messageIds) this.statements.delete.run(messageId);
    });
  }

  /** Moves a message to another queue (its DLQ) in one statement: never in both, never in neither. */
  moveToDeadLetters(messageId: string, deadLetterQueue: string, deadAt: number): void {
    this.statements.move.run(deadLetterQueue, deadAt, messageId);
  }

  private row(queue: string, message: StoredMessage) {
    return [
      message.messageId,
      message.body,
      message.md5OfBody,
      message.sentAt,
      message.visibleAt,
      message.receiveCount,
      message.firstReceivedAt ?? null,
      message.deadAt ?? null,
      queue,
      ++this.seq,
    ] as const;
  }

  private transaction(work: () => void): void {
    this.db.exec("BEGIN");
    try {
      work();
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }
}

function fromRow(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    messageId: row.message_id,
    body: row.body,
    md5OfBody: row.md5_of_body,
    sentAt: row.sent_at,
    visibleAt: row.visible_at,
    receiveCount: row.receive_count,
  };
  if (row.first_received_at !== null) message.firstReceivedAt = row.first_received_at;
  if (row.dead_at !== null) message.deadAt = row.dead_at;
  return message;
}
