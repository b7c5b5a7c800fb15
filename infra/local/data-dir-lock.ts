/**
 * One embedded stack per data dir: a second `npm start` on the same dir would share its database and
 * queues with the first (and crash with "Database is closed"). The lock is a pid file created
 * exclusively; a pid file whose process is gone (a `kill -9`) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Another live process holds the data dir. */
export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Takes the data dir's lock; returns its release. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, "reverie.pid");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
        throw new DataDirInUseError(
          `data dir ${dataDir} is in use by another Reverie (pid ${holder}): stop it, or set REVERIE_DATA_DIR to another directory`,
        );
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new DataDirInUseError(`could not lock data dir ${dataDir}`);
}
