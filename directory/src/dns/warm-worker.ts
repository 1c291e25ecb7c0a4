// Worker thread of the warmer's whole passes (warm-pool.ts, warmer.ts): given a range of
// numbers, it reads their entries and kept answers from the zone image on a connection of its
// own (zone/image.ts ImageWarmRows), signs and encodes the DNSSEC answers missing or due for
// renewal exactly as the event loop would (fast-path.ts numberAnswer, same signer policy), and
// keeps them in the image itself, in short transactions. While queries come (a flag the event
// loop sets in shared memory) it waits between numbers, so a core is left to the answers.
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import type { SigningKey } from '@switchboard/dnssec';
import { numberAnswer } from './fast-path.js';
import type { ImageFiles, WarmRow } from '../zone/image.js';
import { ImageWarmRows } from '../zone/image.js';
import { wireName } from '../zone/name-index.js';
import type { SignaturePolicy } from '../zone/signer.js';
import { OnlineSigner } from '../zone/signer.js';
import type { ZoneSettings } from '../zone/zone.js';
import { nameOfDigits, nodeOfRow, UNSERVABLE } from '../zone/zone.js';

/** What a worker is started with. */
export interface WarmWorkerData {
  readonly port: MessagePort;
  readonly files: ImageFiles;
  readonly settings: ZoneSettings;
  readonly key: SigningKey;
  readonly policy: SignaturePolicy;
  /** [0]: 1 while queries come; the worker then waits `busyPauseMs` after each number. */
  readonly busy: Int32Array;
  readonly busyPauseMs: number;
}

/** Warm the numbers after `after` up to `upTo` (digits; undefined: to the end), at `now` (s). */
export interface WarmRequest {
  readonly id: number;
  readonly after: string;
  readonly upTo: string | undefined;
  readonly now: number;
  /** A renewal pass: only kept answers due are made; entries with none are not decoded. */
  readonly renewOnly?: boolean;
}

export type WarmResponse =
  | {
      readonly id: number;
      readonly ok: true;
      /** Numbers read, and signatures made. */
      readonly numbers: number;
      readonly signatures: number;
      /**
       * Numbers left to the event loop: unservable entries (reported there) and RRsets the
       * octet encoder declines (answered through the general path there).
       */
      readonly leftover: string[];
      /**
       * The answers written (their entry still the one held), for the answer cache: each
       * name length (1 octet), wire name, type (2), renew at (4), length (2), the answer.
       */
      readonly answers: Uint8Array;
      /** The earliest renewal time (s) of the kept answers left alone (Infinity: none). */
      readonly due: number;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** Warms one range; what it did. */
function warmRange(
  rows: ImageWarmRows,
  signer: OnlineSigner,
  data: WarmWorkerData,
  request: WarmRequest,
): WarmResponse {
  const { now } = request;
  const before = signer.signatures;
  const leftover: string[] = [];
  due.at = Infinity;
  const list = rows.rows(request.after, request.upTo);
  for (const row of list) {
    if (!warmRow(rows, signer, data.settings, row, now, request.renewOnly === true)) {
      leftover.push(row.digits);
    }
    if (Atomics.load(data.busy, 0) === 1) {
      rows.commit();
      Atomics.wait(data.busy, 0, 1, data.busyPauseMs);
    }
  }
  rows.commit();
  return {
    id: request.id,
    ok: true,
    numbers: list.length,
    signatures: signer.signatures - before,
    leftover,
    answers: written.take(),
    due: due.at,
  };
}

/** The answers written, packed as {@link WarmResponse} `answers` says. */
class Written {
  #out = new Uint8Array(1 << 18);
  #at = 0;

  add(wire: Uint8Array, qtype: number, renewAt: number, bytes: Uint8Array): void {
    const need = this.#at + 9 + wire.length + bytes.length;
    if (need > this.#out.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.#out.length));
      grown.set(this.#out.subarray(0, this.#at));
      this.#out = grown;
    }
    const out = this.#out;
    let w = this.#at;
    out[w++] = wire.length;
    out.set(wire, w);
    w += wire.length;
    const view = new DataView(out.buffer, out.byteOffset);
    view.setUint16(w, qtype);
    view.setUint32(w + 2, renewAt);
    view.setUint16(w + 6, bytes.length);
    out.set(bytes, w + 8);
    this.#at = w + 8 + bytes.length;
  }

  /** What was added since the last take, in a buffer of its own (transferred). */
  take(): Uint8Array<ArrayBuffer> {
    const packed = this.#out.slice(0, this.#at);
    this.#at = 0;
    return packed;
  }
}

const written = new Written();

/** The earliest renewal time (seconds) of the answers a range left alone, as not yet due. */
const due = { at: Infinity };

/** Makes the answers of `row` missing or due at `now`: false if it must be left to the loop. */
function warmRow(
  rows: ImageWarmRows,
  signer: OnlineSigner,
  settings: ZoneSettings,
  row: WarmRow,
  now: number,
  renewOnly: boolean,
): boolean {
  if (renewOnly && !anyDue(row, now)) return true;
  const node = nodeOfRow(row, settings);
  if (node === UNSERVABLE) return false;
  let wire: Uint8Array | undefined;
  for (const [qtype, rrset] of node) {
    const renewAt = row.kept.get(qtype);
    if (renewOnly && renewAt === undefined) continue;
    if (renewAt !== undefined && now < renewAt) {
      due.at = Math.min(due.at, renewAt);
      continue;
    }
    wire ??= wireName(nameOfDigits(row.digits, settings.apex));
    const bytes = numberAnswer(signer, wire, wire.length, rrset, now);
    if (!bytes) return false;
    rows.keep(row, qtype, signer.renewalOf(signer.numberExpiration(now, wire, wire.length)), bytes);
  }
  return true;
}

/** Whether an answer kept for `row` is due at `now`; else the earliest renewal is noted. */
function anyDue(row: WarmRow, now: number): boolean {
  for (const renewAt of row.kept.values()) {
    if (now >= renewAt) return true;
    due.at = Math.min(due.at, renewAt);
  }
  return false;
}

function main(): void {
  const data = workerData as WarmWorkerData;
  const rows = new ImageWarmRows(data.files);
  const { apex } = data.settings;
  rows.onWritten = (digits, qtype, renewAt, bytes) =>
    written.add(wireName(nameOfDigits(digits, apex)), qtype, renewAt, bytes);
  const signer = new OnlineSigner(data.key, data.settings.apex, data.policy);
  data.port.on('message', (request: WarmRequest) => {
    let response: WarmResponse;
    try {
      response = warmRange(rows, signer, data, request);
    } catch (err) {
      response = { id: request.id, ok: false, error: String((err as Error).stack ?? err) };
    }
    data.port.postMessage(response, response.ok ? [response.answers.buffer as ArrayBuffer] : []);
  });
  data.port.once('close', () => rows.close());
}

main();
