import type { Request } from 'express';
import type { OperationHandler } from '@switchboard/openapi';
import type { ProviderSchema } from '@switchboard/openapi';
import { RateLimiter } from '@switchboard/service-kit';
import type { ProviderDeps } from '../core/deps.js';
import { rateLimited } from '../core/errors.js';
import { previewRendezvousCard } from './rendezvous-card.js';

/** Card previews per client prefix (a signature check and a QR code each): 60 a minute. */
const CARD_PREVIEWS = { capacity: 60, perSeconds: 60 };

/**
 * Binds the onboarding page's own operations (beside verification and hand-over): the
 * rendez-vous card preview, limited per client prefix.
 */
export function bindOnboardingOperations(
  bind: (operationId: string, handler: OperationHandler) => void,
  deps: ProviderDeps,
  clientAddress: (req: Request) => string,
): void {
  const previews = new RateLimiter(CARD_PREVIEWS, { now: deps.now, maxKeys: 10_000 });
  bind('previewRendezvousCard', async (req, res, input) => {
    const decision = previews.take(clientAddress(req));
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds, 'card previews');
    const body = input.body as ProviderSchema<'RendezvousCardInput'>;
    res.json(await previewRendezvousCard(body.card, deps.now()));
  });
}
