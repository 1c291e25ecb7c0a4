import type { Request, RequestHandler } from 'express';
import express from 'express';
import type { OperationHandler } from '@switchboard/openapi';
import type { ApiKeyScope } from '../core/auth.js';
import type { ProviderDeps } from '../core/deps.js';
import type { OperatorSources, RecentErrors } from './operator-overview.js';
import { operatorOverview } from './operator-overview.js';
import { OPERATOR_PAGE, OPERATOR_SCRIPT } from './operator-page.js';

/** Binds `getOperatorOverview` (operator key with `accounts:read`; never cached). */
export function bindOperatorOperations(
  bind: (operationId: string, handler: OperationHandler) => void,
  deps: ProviderDeps,
  operator: (req: Request, scope: ApiKeyScope) => Promise<string>,
  recent: RecentErrors,
  sources: OperatorSources,
): void {
  bind('getOperatorOverview', async (req, res, input) => {
    await operator(req, 'accounts:read');
    const overview = await operatorOverview(deps, sources, recent, {
      q: input.query['q'] as string | undefined,
      page: input.query['page'] as number,
      pageSize: input.query['pageSize'] as number,
    });
    res.set('Cache-Control', 'no-store').json(overview);
  });
}

/** `/operator` and its script, behind the page's security headers. */
export function operatorPages(pageHeaders: RequestHandler): express.Router {
  const router = express.Router();
  router.get('/operator', pageHeaders, (_req, res) => {
    res.type('html').send(OPERATOR_PAGE);
  });
  router.get('/operator.js', (_req, res) => {
    res.type('text/javascript').send(OPERATOR_SCRIPT);
  });
  return router;
}
