import WebSocket from 'ws';
import { SwitchboardError } from '../errors.js';
import { ProviderError } from '../provider/client.js';
import type { PushConnector, PushSocket } from '../provider/push.js';

/** {@link PushConnector} over the `ws` package (which, unlike browsers, sends request headers). */
export function nodePushConnector(options: { readonly timeoutMs?: number } = {}): PushConnector {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return (url, headers) =>
    new Promise<PushSocket>((resolve, reject) => {
      // Frames are one mailbox message each; the provider caps messages far below this.
      const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs, maxPayload: 1 << 20 });
      ws.once('unexpected-response', (_req, res) => {
        reject(
          new ProviderError(
            res.statusCode ?? 0,
            undefined,
            `the provider refused push delivery (HTTP ${res.statusCode ?? 0})`,
          ),
        );
        res.resume();
        ws.terminate();
      });
      ws.once('error', (cause) =>
        reject(
          new SwitchboardError('network-failed', 'could not open push delivery; pull instead', {
            cause,
          }),
        ),
      );
      ws.once('open', () => {
        let failure: Error | undefined;
        ws.on('error', (err) => (failure = err));
        resolve({
          onText(listener) {
            ws.on('message', (data, isBinary) => {
              if (!isBinary) listener(Buffer.from(data as Buffer).toString('utf8'));
            });
          },
          onClose(listener) {
            ws.once('close', (code) =>
              listener(
                failure ??
                  (code === 1000 || code === 1005
                    ? undefined
                    : new SwitchboardError('network-failed', `push delivery ended (code ${code})`)),
              ),
            );
          },
          close() {
            ws.close(1000);
          },
        });
      });
    });
}
