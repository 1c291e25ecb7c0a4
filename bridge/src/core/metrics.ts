import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Network } from '../model/model.js';

/** The bridge's Prometheus metrics, on a registry of its own (no global state). */
export class BridgeMetrics {
  readonly registry = new Registry();
  readonly #messages: Counter<'network' | 'direction'>;
  readonly #failures: Counter<'network' | 'reason'>;
  readonly #latency: Histogram<'network'>;
  readonly #pending: Gauge;
  readonly #up: Gauge<'network'>;

  constructor() {
    this.#messages = new Counter({
      name: 'switchboard_bridge_messages_total',
      help: 'Messages carried, by network and direction (in = received from, out = delivered to)',
      labelNames: ['network', 'direction'],
      registers: [this.registry],
    });
    this.#failures = new Counter({
      name: 'switchboard_bridge_failures_total',
      help: 'Messages refused or not delivered, by network and error code',
      labelNames: ['network', 'reason'],
      registers: [this.registry],
    });
    this.#latency = new Histogram({
      name: 'switchboard_bridge_delivery_seconds',
      help: 'Time from acknowledging a message to delivering it, by destination network',
      labelNames: ['network'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
      registers: [this.registry],
    });
    this.#pending = new Gauge({
      name: 'switchboard_bridge_outbox_pending',
      help: 'Acknowledged messages waiting for delivery',
      registers: [this.registry],
    });
    this.#up = new Gauge({
      name: 'switchboard_bridge_network_up',
      help: '1 when the bridge is connected to the network',
      labelNames: ['network'],
      registers: [this.registry],
    });
  }

  received(network: Network): void {
    this.#messages.inc({ network, direction: 'in' });
  }

  delivered(network: Network, seconds: number): void {
    this.#messages.inc({ network, direction: 'out' });
    this.#latency.observe({ network }, seconds);
  }

  failed(network: Network, reason: string): void {
    this.#failures.inc({ network, reason });
  }

  setPending(n: number): void {
    this.#pending.set(n);
  }

  setUp(network: Network, up: boolean): void {
    this.#up.set({ network }, up ? 1 : 0);
  }

  /** Text exposition format. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
