/**
 * Data dirs from before the queue database kept each message as a JSON file (`<queue dir>/<id>.json`,
 * dead letters in `<queue dir>-dlq/`). Opening a queue moves such files into the database, so a data
 * dir made by that version keeps its pending, in-flight, delayed and dead messages.
 *
 * Crash-safe in this order: every file of the directory is inserted in one transaction, keyed by its
 * message id, and only once that has committed are the files removed. A crash before the commit
 * leaves only the files (moved again at the next open); a crash after it leaves a message both in
 * the database and as a file, and the next open inserts nothing for it (its id is there already) and
 * removes the file. So the move neither loses nor duplicates a message. (Were it to duplicate one,
 * that would still be SQS's at-least-once, which every consumer here tolerates; it does not need to.)
 */
import { readdirSync, readFileSync, renameSync, rmdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { LocalQueueDatabase, StoredMessage } from "./local-queue-database.js";

/** Moves the message files of `dir` into `queue`; returns how many were moved. */
export function migrateMessageFiles(database: LocalQueueDatabase, queue: string, dir: string): number {
  const files = readMessageFiles(dir);
  if (files === undefined) return 0;
  database.insertIfAbsent(
    queue,
    files.map((file) => file.message),
  );
  for (const { path } of files) removeFile(path);
  // Gone once empty; a file kept for inspection (`.unreadable`) keeps it.
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or already gone
  }
  return files.length;
}

/** The message files of a directory (undefined if there is none), clearing leftovers of interrupted writes. */
function readMessageFiles(dir: string): Array<{ path: string; message: StoredMessage }> | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const files: Array<{ path: string; message: StoredMessage }> = [];
  for (const name of names) {
    const path = join(dir, name);
    // The file queue wrote a temporary file and renamed it: a .tmp was never an accepted message.
    if (name.endsWith(".tmp")) {
      removeFile(path);
      continue;
    }
    if (!name.endsWith(".json")) continue;
    const message = parseMessage(readFileSync(path, "utf8"));
    // Renames were atomic, so this is not ours to delete; keep it out of the way for inspection.
    if (message === undefined) renameSync(path, `${path}.unreadable`);
    else files.push({ path, message });
  }
  return files.sort(
    (a, b) => a.message.sentAt - b.message.sentAt || a.message.messageId.localeCompare(b.message.messageId),
  );
}

function parseMessage(text: string): StoredMessage | undefined {
  let value: Partial<Record<keyof StoredMessage, unknown>>;
  try {
    value = JSON.parse(text) as typeof value;
  } catch {
    return undefined;
  }
  const { messageId, body, md5OfBody, sentAt, visibleAt, receiveCount, firstReceivedAt, deadAt } = value;
  if (
    typeof messageId !== "string" ||
    typeof body !== "string" ||
    typeof md5OfBody !== "string" ||
    typeof sentAt !== "number" ||
    typeof visibleAt !== "number" ||
    typeof receiveCount !== "number"
  )
    return undefined;
  const message: StoredMessage = { messageId, body, md5OfBody, sentAt, visibleAt, receiveCount };
  if (typeof firstReceivedAt === "number") message.firstReceivedAt = firstReceivedAt;
  if (typeof deadAt === "number") message.deadAt = deadAt;
  return message;
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    // An error other than "already gone" stops the queue from opening: carrying on with the file
    // still there would deliver its message again after it is done, at the next open.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
