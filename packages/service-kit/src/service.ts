/**
 * The contract between a runnable part and the stack launcher (`npm start`): each part exports
 * `startService(context)` from its `service` entry and returns one of these.
 */
export interface RunningService {
  /** Part name, e.g. `directory`. */
  readonly name: string;
  /** Human-readable lines saying where it listens, e.g. `DNS udp+tcp 127.0.0.1:5300`. */
  readonly listening: readonly string[];
  /** Graceful stop; idempotent. */
  stop(): Promise<void>;
}

/** What the launcher hands every part. */
export interface ServiceContext {
  /** Directory for this stack's SQLite files and keys (default `./data`). */
  readonly dataDir: string;
  /** The process environment, injected so parts never read `process.env` themselves. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Services started before this one, so later parts can find earlier ones. */
  readonly started: readonly RunningService[];
}
