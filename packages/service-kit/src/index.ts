export type { LogConfig, Logger } from './logger.js';
export { REDACTED_FIELDS, createLogger, redactText } from './logger.js';
export type { RateDecision, RateLimit } from './rate-limit.js';
export { RateLimiter } from './rate-limit.js';
export type { ExpressApp, RunningHttpServer } from './http-server.js';
export { expressServer, listenHttp } from './http-server.js';
export type { RunningService, ServiceContext } from './service.js';
export type { PrefixLengths } from './client-prefix.js';
export { clientPrefix } from './client-prefix.js';
