import type { KeyObject } from 'node:crypto';
import { signRequest } from '@switchboard/http-signature';
import type { DirectoryComponents } from '@switchboard/openapi';

/** What the directory's publish API takes (`PublishRequest` of `openapi/directory.yaml`). */
export type PublishRequest = DirectoryComponents['schemas']['PublishRequest'];
/** A proof that a number may move to this provider (`MoveProof`). */
export type MoveProof = DirectoryComponents['schemas']['MoveProof'];
/** A published contact method. */
export type DirectoryContact = DirectoryComponents['schemas']['Contact'];

/** Why the directory refused or could not be reached; `status` is 0 for network failures. */
export class DirectoryPublishError extends Error {
  override readonly name = 'DirectoryPublishError';
  constructor(
    readonly status: number,
    readonly problemCode: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Publishes to and withdraws from the directory. */
export interface DirectoryPublisher {
  publish(number: string, request: PublishRequest): Promise<void>;
  /** Withdraws; a number the directory does not hold counts as withdrawn. */
  withdraw(number: string): Promise<void>;
  /**
   * Whether the directory holds `number` for this provider (`getNumber`); false when another
   * provider or nobody holds it. Throws {@link DirectoryPublishError} when it cannot tell.
   */
  holds(number: string): Promise<boolean>;
}

/** Settings of {@link HttpDirectoryPublisher}. */
export interface HttpDirectoryPublisherConfig {
  /** e.g. `http://127.0.0.1:8053`. */
  readonly baseUrl: string;
  /** RFC 9421 `keyid` the directory knows this provider's publishing key by. */
  readonly keyId: string;
  /** The provider's accredited Ed25519 publishing key. */
  readonly privateKey: KeyObject;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/**
 * Calls the directory's publish API (`openapi/directory.yaml`) with requests signed by the
 * provider's accredited key (RFC 9421, `@switchboard/http-signature`).
 */
export class HttpDirectoryPublisher implements DirectoryPublisher {
  readonly #config: HttpDirectoryPublisherConfig;

  constructor(config: HttpDirectoryPublisherConfig) {
    this.#config = config;
  }

  async publish(number: string, request: PublishRequest): Promise<void> {
    await this.#call('PUT', number, JSON.stringify(request), [200, 201]);
  }

  async withdraw(number: string): Promise<void> {
    await this.#call('DELETE', number, '', [204, 404]);
  }

  async holds(number: string): Promise<boolean> {
    return (await this.#call('GET', number, '', [200, 404])) === 200;
  }

  /** Sends a signed request; the status when it is one of `ok`, else throws. */
  async #call(
    method: string,
    number: string,
    body: string,
    ok: readonly number[],
  ): Promise<number> {
    const url = new URL(`/v1/numbers/${encodeURIComponent(number)}`, this.#config.baseUrl);
    const signed = signRequest({
      method,
      url: `${url.pathname}${url.search}`,
      body,
      keyId: this.#config.keyId,
      privateKey: this.#config.privateKey,
      now: this.#config.now() / 1000,
    });
    let res: Response;
    try {
      res = await (this.#config.fetch ?? fetch)(url, {
        method,
        headers: { ...signed, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body } : {}),
        signal: AbortSignal.timeout(this.#config.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new DirectoryPublishError(
        0,
        undefined,
        `the directory could not be reached: ${err instanceof Error ? err.message : 'error'}`,
      );
    }
    const text = await res.text();
    if (ok.includes(res.status)) return res.status;
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { code?: string }).code;
    } catch {
      code = undefined;
    }
    throw new DirectoryPublishError(
      res.status,
      code,
      `the directory refused the ${VERB[method] ?? 'request'} (HTTP ${res.status}${code ? `, ${code}` : ''})`,
    );
  }
}

const VERB: Record<string, string> = { PUT: 'publication', DELETE: 'withdrawal', GET: 'read' };

/** An in-memory directory for tests and for running without one. */
export class MemoryDirectoryPublisher implements DirectoryPublisher {
  readonly entries = new Map<string, PublishRequest>();
  failWith: DirectoryPublishError | undefined;

  publish(number: string, request: PublishRequest): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.entries.set(number, request);
    return Promise.resolve();
  }

  withdraw(number: string): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.entries.delete(number);
    return Promise.resolve();
  }

  holds(number: string): Promise<boolean> {
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve(this.entries.has(number));
  }
}
