import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../logger.ts';

/** Room folders are `roundtable-files-<pid>-XXXXXX`: a later server can tell a dead process's leftovers. */
const PREFIX = 'roundtable-files-';
const OWN_DIR = /^roundtable-files-(\d+)-/;

/**
 * One room's files on disk: a private temporary folder, made on the first share, and the room's byte
 * budget. Space is reserved at the declared size when a file is offered, so a room can never hold more
 * than its cap, even while uploads are under way; it is freed when the file goes. The folder and all
 * in it are deleted when the room closes.
 */
export class FileStore {
  #dir: string | undefined;
  #reserved = 0;
  #closed = false;

  constructor(
    private readonly parent: string,
    readonly capacity: number,
    private readonly logger: Logger,
  ) {}

  /** The folder, once something has been stored (tests check that it goes with the room). */
  get dir(): string | undefined {
    return this.#dir;
  }

  get reserved(): number {
    return this.#reserved;
  }

  /** Takes `bytes` of the budget; false when they do not fit. */
  reserve(bytes: number): boolean {
    if (this.#closed || this.#reserved + bytes > this.capacity) return false;
    this.#reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#reserved = Math.max(0, this.#reserved - bytes);
  }

  /** Where a file's bytes go. The name is the server's own id, never anything a client sent. */
  pathFor(fileId: string): string {
    if (this.#closed) throw new Error('the file store is closed');
    // Synchronous once per room: the first share waits a few microseconds, and no two calls race.
    this.#dir ??= mkdtempSync(path.join(this.parent, `${PREFIX}${process.pid}-`));
    return path.join(this.#dir, fileId);
  }

  /** Deletes the folder with everything in it. Idempotent; open readers and writers are closed first by the owner. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reserved = 0;
    const dir = this.#dir;
    if (!dir) return;
    rm(dir, { recursive: true, force: true }).catch((error: unknown) =>
      this.logger.error({ err: error, dir }, 'cannot delete the room\'s file folder'),
    );
  }
}

/**
 * Deletes room folders left behind by server processes that are gone (killed, crashed) before they
 * could close their rooms. Run once at start-up; a live process's folders are never touched.
 */
export function removeStaleFileFolders(parent: string, logger: Logger): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch (error) {
    logger.warn({ err: error, parent }, 'cannot list the file folder\'s parent to clean it');
    return;
  }
  for (const name of names) {
    const pid = Number(OWN_DIR.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    try {
      rmSync(path.join(parent, name), { recursive: true, force: true });
      logger.info({ dir: name }, 'removed files left by a server that stopped without closing its rooms');
    } catch (error) {
      logger.warn({ err: error, dir: name }, 'cannot remove files left by a stopped server');
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The parent of every room folder: `files.dir`, else the system's temp directory. */
export function fileFoldersParent(configured: string | undefined): string {
  return path.resolve(configured ?? os.tmpdir());
}
