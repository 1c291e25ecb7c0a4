import type { RunningPeer } from '../load/process.js';

/** Where and what a peer serves. Every file it writes stays under `workDir`. */
export interface PeerStart {
  readonly workDir: string;
  readonly apex: string;
  /** Zone file to load: unsigned for online signers, pre-signed for the others. */
  readonly zoneFile: string;
  readonly port: number;
  /** CPU to pin the server to (one core each, dnsperf gets the other). */
  readonly cpu?: number;
}

/** A peer server the benchmark knows how to configure and start. */
export interface PeerDefinition {
  /** Short id used in tables and JSON, e.g. `knot-online`. */
  readonly id: string;
  readonly description: string;
  /** `unsigned` peers sign online; `presigned` peers load the NSEC3 zone from dnssec-signzone. */
  readonly zone: 'unsigned' | 'presigned' | 'none';
  /** Not a DNS server but a reference point: answers are not checked, goals ignore it. */
  readonly reference?: boolean;
  /**
   * Memory per published number the server was seen to take (RSS over count, measured here):
   * a peer whose estimate exceeds the memory available is skipped, with the reason.
   */
  readonly bytesPerNumber?: number;
  start(options: PeerStart): Promise<RunningPeer>;
}
