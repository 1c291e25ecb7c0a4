// The provider API's public surface: the app factory for embedding and tests, the runnable
// service for `npm start`, and the pluggable pieces an operator swaps (code senders, config).
export type { ProviderApp, ProviderAppOptions } from './app.js';
export { createProviderApp, providerValidator } from './app.js';
export type { CodeMessage, CodeSender, WebhookCodeSenderConfig } from './core/code-sender.js';
export { ConsoleCodeSender, MemoryCodeSender, WebhookCodeSender } from './core/code-sender.js';
export type { ProviderConfig, VerificationConfig } from './core/config.js';
export { defaultProviderConfig } from './core/config.js';
export type { ProviderDeps } from './core/deps.js';
export { PROVIDER_MIGRATIONS } from './store/migrations.js';
export type { ProviderTables } from './store/schema.js';
export { startService } from './service.js';
