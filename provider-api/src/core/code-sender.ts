/** One verification code to deliver. */
export interface CodeMessage {
  /** E.164 number. */
  readonly to: string;
  readonly code: string;
  readonly transport: 'sms' | 'voice';
  readonly locale?: string;
}

/**
 * Delivers verification codes. A real SMS or voice gateway is a small adapter implementing this;
 * a rejection makes the API answer 502 `verification.sender-failed`.
 */
export interface CodeSender {
  send(message: CodeMessage): Promise<void>;
}

/**
 * The embedded default: writes the code to a terminal stream, for a developer running the stack
 * locally. Never use it in production (the code reaches whoever reads the terminal).
 */
export class ConsoleCodeSender implements CodeSender {
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  send(message: CodeMessage): Promise<void> {
    // The developer needs the code; the number is shortened to its last digits to recognise it.
    this.#write(
      `[switchboard provider-api] verification code for ...${message.to.slice(-3)} by ${message.transport}: ${message.code}\n`,
    );
    return Promise.resolve();
  }
}

/** Settings of {@link WebhookCodeSender}. */
export interface WebhookCodeSenderConfig {
  /** HTTPS endpoint that receives `{ to, code, transport, locale }` as JSON. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  readonly bearerToken?: string;
  /** Default 10 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Posts each code to an HTTP webhook (a gateway, or a bridge to one); 2xx means accepted. */
export class WebhookCodeSender implements CodeSender {
  readonly #config: WebhookCodeSenderConfig;

  constructor(config: WebhookCodeSenderConfig) {
    this.#config = config;
  }

  async send(message: CodeMessage): Promise<void> {
    const doFetch = this.#config.fetch ?? fetch;
    const res = await doFetch(this.#config.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.#config.bearerToken
          ? { authorization: `Bearer ${this.#config.bearerToken}` }
          : {}),
      },
      body: JSON.stringify({
        to: message.to,
        code: message.code,
        transport: message.transport,
        ...(message.locale ? { locale: message.locale } : {}),
      }),
      signal: AbortSignal.timeout(this.#config.timeoutMs ?? 10_000),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`code webhook answered HTTP ${res.status}`);
  }
}

/** Records codes in memory; for tests and for the property-based driver. */
export class MemoryCodeSender implements CodeSender {
  readonly sent: CodeMessage[] = [];
  fail = false;

  send(message: CodeMessage): Promise<void> {
    if (this.fail) return Promise.reject(new Error('sender down'));
    this.sent.push(message);
    return Promise.resolve();
  }

  /** The last code sent to a number. */
  lastCodeFor(number: string): string | undefined {
    return [...this.sent].reverse().find((m) => m.to === number)?.code;
  }
}
