'use strict';
// Loading this module must succeed (matrix-appservice-bridge requires it at import time);
// only using it fails, with an explanation. See docs/decisions.md.
const message =
  'Matrix end-to-bridge encryption is not available in Switchboard: the bridge carries ' +
  'Switchboard envelopes opaque and never holds Matrix crypto keys ' +
  '(@matrix-org/matrix-sdk-crypto-nodejs is replaced by a stand-in, see docs/decisions.md).';
function unavailable() {
  throw new Error(message);
}
module.exports = new Proxy(
  {},
  {
    get(_target, prop) {
      if (prop === '__esModule' || prop === 'then' || typeof prop === 'symbol') return undefined;
      return unavailable;
    },
  },
);
