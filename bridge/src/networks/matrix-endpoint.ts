import express from 'express';
import type { Application, NextFunction, Request, Response } from 'express';
import { MAX_BODY_BYTES } from './matrix-transactions.js';

/** Path prefix of the Application Service API since spec r0.1 / v1.1. */
const AS_V1 = '/_matrix/app/v1';

/** What the endpoint asks of the Matrix side. */
export interface AppServiceHandler {
  /** Resolves once every event of the transaction is recorded or acted on (then: 200). */
  transaction(txnId: string, body: Record<string, unknown>): Promise<void>;
  userExists(userId: string): Promise<boolean>;
  health(res: Response): void;
}

/**
 * Serves the legacy paths (`/transactions/{txnId}`, `/users/{userId}`, `/rooms/{alias}`, spec
 * §Legacy routes) and the doubled prefix a registration url ending in `/_matrix/app/v1` gets
 * from a current homeserver, in place: a redirect would not do, homeservers do not follow them.
 */
export function appServicePaths(req: Request, _res: Response, next: NextFunction): void {
  if (req.url.startsWith(`${AS_V1}${AS_V1}/`)) req.url = req.url.slice(AS_V1.length);
  else if (/^\/(transactions|users|rooms)\//.test(req.url)) req.url = AS_V1 + req.url;
  next();
}

/**
 * The Application Service API endpoint (spec v1.x, homeserver -> application service), durable
 * and spec-exact: a transaction is answered 200 only after its events are recorded (each event
 * once, by event id, across restarts); the homeserver token is checked before a body is read,
 * 401 without a token, 403 with a wrong one (`Authorization: Bearer` or legacy
 * `?access_token=`). A plain express app: one JSON parser, no per-request access log.
 */
export function appServiceEndpoint(hsToken: string, handler: AppServiceHandler): Application {
  const app = express();
  app.use(appServicePaths);
  app.get('/health', (_req, res) => handler.health(res));
  const authorized = (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    const query =
      typeof req.query['access_token'] === 'string' ? req.query['access_token'] : undefined;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : query;
    if (token === undefined) {
      res.status(401).send({ errcode: 'M_UNAUTHORIZED', error: 'missing homeserver token' });
    } else if (token !== hsToken) {
      res.status(403).send({ errcode: 'M_FORBIDDEN', error: 'bad homeserver token' });
    } else next();
  };
  app.use(AS_V1, authorized, express.json({ limit: MAX_BODY_BYTES }));
  app.put(`${AS_V1}/transactions/:txnId`, (req, res) => {
    const txnId = String(req.params['txnId'] ?? '');
    const body: unknown = req.body;
    if (!txnId || typeof body !== 'object' || body === null || Array.isArray(body)) {
      res.status(400).send({ errcode: 'M_BAD_JSON', error: 'transaction body must be an object' });
      return;
    }
    handler.transaction(txnId, body as Record<string, unknown>).then(
      () => res.status(200).send({}),
      () =>
        res.status(500).send({ errcode: 'M_UNKNOWN', error: 'transaction not processed; retry' }),
    );
  });
  app.get(`${AS_V1}/users/:userId`, (req, res) => {
    handler.userExists(String(req.params['userId'] ?? '')).then(
      (exists) => {
        if (exists) res.status(200).send({});
        else
          res
            .status(404)
            .send({ errcode: 'ORG.SWITCHBOARD_NOT_FOUND', error: 'no such remote user' });
      },
      () => res.status(500).send({ errcode: 'M_UNKNOWN', error: 'lookup failed' }),
    );
  });
  app.get(`${AS_V1}/rooms/:alias`, (_req, res) => {
    // Portals are created on demand by invitation or by an incoming message, not by alias.
    res
      .status(404)
      .send({ errcode: 'ORG.SWITCHBOARD_NOT_FOUND', error: 'portals are not joined by alias' });
  });
  app.post(`${AS_V1}/ping`, (_req, res) => {
    res.status(200).send({});
  });
  return app;
}
