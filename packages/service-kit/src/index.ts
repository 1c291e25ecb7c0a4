export type { LogConfig, Logger } from './logger.js';
export { REDACTED_FIELDS, createLogger, redactText } from './logger.js';
export type { RateDecision, RateLimit } from './rate-limit.js';
export { RateLimiter } from './rate-limit.js';
export type { ExpressApp, RunningHttpServer } from './http-server.js';
export { expressServer, listenHttp } from './http-server.js';
export type { RunningService, ServiceContext } from './service.js';
export type { PrefixLengths } from './client-prefix.js';
export { clientPrefix } from './client-prefix.js';
export { JsonDepthError, MAX_JSON_DEPTH, jsonTextTooDeep, parseJsonBody } from './json-depth.js';
export type { PagePolicy } from './security-headers.js';
export {
  API_CONTENT_SECURITY_POLICY,
  pageContentSecurityPolicy,
  pageSecurityHeaders,
  securityHeaders,
  withSecurityHeaders,
} from './security-headers.js';
export type { MetricsAddress, MetricsSource } from './metrics-server.js';
export { listenMetrics, metricsAddress } from './metrics-server.js';
export type { KamailioSettings, ProsodySettings } from './peer-configs.js';
export { KAMAILIO_MODULES_DIR, kamailioConfig, prosodyConfig } from './peer-configs.js';
export type { EnvKind, EnvReadOptions, EnvSchema, EnvValues, EnvVariable } from './env-schema.js';
export {
  EnvConfigError,
  LOG_LEVELS,
  envKinds,
  optionalField,
  readEnvSchema,
} from './env-schema.js';
