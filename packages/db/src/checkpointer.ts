// Checkpoints a SQLite WAL database from a worker thread, so that the fsyncs of a checkpoint
// never run on (and stall) the thread that serves queries. Started by `openDatabase`.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/** How often the worker checkpoints (milliseconds). */
export const CHECKPOINT_INTERVAL_MS = 200;

/**
 * WAL pages after which the serving connection checkpoints by itself: only reached if the
 * worker stalls or is gone, so the WAL stays bounded either way.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

interface CheckpointerData {
  readonly file: string;
  readonly intervalMs: number;
}

/** A running background checkpointer. */
export interface Checkpointer {
  /** Checkpoints once more and stops; idempotent. */
  stop(): Promise<void>;
}

/** Starts checkpointing the WAL of the SQLite file `file` from a worker thread. */
export function startCheckpointer(file: string, intervalMs = CHECKPOINT_INTERVAL_MS): Checkpointer {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { file, intervalMs } satisfies CheckpointerData,
  });
  worker.unref();
  // A failing worker only means the serving connection checkpoints by itself again.
  worker.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        // Keep the process alive until the worker has closed its connection.
        worker.ref();
        worker.postMessage('stop');
        await exited;
      })()),
  };
}

/**
 * Nice value of the checkpointing thread. On a server with one core, a checkpoint at the normal
 * priority takes turns with the serving thread while it copies pages (several ms every round at
 * 1,000 writes/s), and every request waiting then queues behind it. At nice 10 it runs in the
 * serving thread's idle time and, while both want the core, gets about a tenth of it (CFS
 * weights 110 : 1024), about what it used of a saturated provider's CPU in profiles (~10%), so
 * that it keeps up rather than leave the backlog to the serving connection's own fallback
 * checkpoint (`FALLBACK_AUTOCHECKPOINT_PAGES`, on the serving thread), as it would at nice 19
 * (weight 15).
 */
export const CHECKPOINTER_NICE = 10;

/**
 * Lowers the priority of the calling thread only (Linux: a thread id given to setpriority names
 * that thread) to `nice`. Elsewhere (no /proc/thread-self) it keeps the normal priority.
 */
export function lowerThreadPriority(nice: number): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}

/** A `wal_checkpoint` pragma's row: frames in the WAL, frames copied, and whether it was busy. */
interface WalCheckpoint {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

/** Most checkpoints one interval runs back to back to catch up with the WAL's end. */
export const CATCH_UP_ROUNDS = 8;

function runWorker(data: CheckpointerData): void {
  lowerThreadPriority(CHECKPOINTER_NICE);
  const db = new SQLite(data.file, { fileMustExist: true });
  db.pragma('busy_timeout = 1000');
  const checkpoint = (): void => {
    try {
      // PASSIVE: copies what it can without waiting for readers or writers. The serving
      // connection starts the WAL over (instead of growing it) only once a checkpoint copied
      // every frame in it; under steady writes frames land while a round copies, so rounds go
      // again at once (each copying only the few frames written meanwhile) until one finds the
      // WAL no longer than the round before: caught up, and the next commit starts it over,
      // instead of the WAL growing to the serving connection's own fallback checkpoint.
      let frames = -1;
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
        const [state] = db.pragma('wal_checkpoint(PASSIVE)') as WalCheckpoint[];
        if (!state || state.busy !== 0 || state.log <= frames) return;
        frames = state.log;
      }
    } catch {
      // Busy or locked: the next round tries again.
    }
  };
  const timer = setInterval(checkpoint, data.intervalMs);
  parentPort?.on('message', (message) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    checkpoint();
    db.close();
    parentPort?.close();
  });
}

if (!isMainThread && (workerData as Partial<CheckpointerData> | null)?.file !== undefined) {
  runWorker(workerData as CheckpointerData);
}
