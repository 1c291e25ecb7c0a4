// Public API of @switchboard/dns-wire. First commit: signatures only; bodies land next.
import { DnsWireError } from './errors.js';
import type {
  DecodeOptions,
  DomainName,
  EncodeOptions,
  KnownRecord,
  KnownType,
  Message,
  PeekedHeader,
  RdataByType,
  ResourceRecord,
  TxtData,
  ZoneParseOptions,
} from './types.js';

export * from './types.js';
export type { DnsWireErrorCode } from './errors.js';
export { DnsWireError, isDnsWireError } from './errors.js';

/** One codec per rdata TYPE (dns-packet shape, without mutable `encode.bytes`). */
export interface RdataCodec<D> {
  /** Octets `encode` writes (uncompressed). */
  encodingLength(data: D): number;
  /** Writes the uncompressed rdata at `offset`; returns the number of octets written. */
  encodeInto(data: D, buf: Uint8Array, offset: number): number;
  encode(data: D): Uint8Array;
  /** Decodes `length` rdata octets at `offset`; `buf` is the whole message (for pointers). */
  decode(buf: Uint8Array, offset: number, length: number): D;
}

function inProgress(): never {
  throw new DnsWireError('bad-value', -1, 'not implemented yet');
}

export function decodeMessage(_bytes: Uint8Array, _options?: DecodeOptions): Message {
  return inProgress();
}
export function encodeMessage(_msg: Message, _options?: EncodeOptions): Uint8Array {
  return inProgress();
}
export function peekHeader(_bytes: Uint8Array): PeekedHeader | undefined {
  return inProgress();
}
export function isRecordType<T extends KnownType>(
  rr: ResourceRecord,
  type: T,
): rr is Extract<KnownRecord, { type: T }> {
  return rr.type === type && !('raw' in rr.data);
}
export function rdataCodec<T extends KnownType>(_type: T): RdataCodec<RdataByType[T]> {
  return inProgress();
}
export function encodeRdata(_rr: ResourceRecord): Uint8Array {
  return inProgress();
}
export function decodeRdata(
  _type: number,
  _buf: Uint8Array,
  _offset: number,
  _length: number,
): ResourceRecord['data'] {
  return inProgress();
}
export function encodeName(_name: DomainName): Uint8Array {
  return inProgress();
}
export function decodeName(_buf: Uint8Array, _offset: number): { name: DomainName; end: number } {
  return inProgress();
}
export function normalizeName(_name: DomainName): DomainName {
  return inProgress();
}
export function canonicalName(_name: DomainName): DomainName {
  return inProgress();
}
export function namesEqual(_a: DomainName, _b: DomainName): boolean {
  return inProgress();
}
export function nameLabels(_name: DomainName): string[] {
  return inProgress();
}
export function labelCount(_name: DomainName): number {
  return inProgress();
}
export function isSubdomainOf(_name: DomainName, _ancestor: DomainName): boolean {
  return inProgress();
}
export function compareCanonicalNames(_a: DomainName, _b: DomainName): number {
  return inProgress();
}
export function canonicalRdata(_rr: ResourceRecord): Uint8Array {
  return inProgress();
}
export function canonicalRrset(_rrset: readonly ResourceRecord[]): ResourceRecord[] {
  return inProgress();
}
export function formatRecord(_rr: ResourceRecord): string {
  return inProgress();
}
export function parseZone(_text: string, _options?: ZoneParseOptions): ResourceRecord[] {
  return inProgress();
}
export function parseRecord(_line: string, _options?: ZoneParseOptions): ResourceRecord {
  return inProgress();
}
export function typeToString(_type: number): string {
  return inProgress();
}
export function typeFromString(_text: string): number {
  return inProgress();
}
export function classToString(_cls: number): string {
  return inProgress();
}
export function rcodeToString(_rcode: number): string {
  return inProgress();
}
export function txtData(..._texts: string[]): TxtData {
  return inProgress();
}
