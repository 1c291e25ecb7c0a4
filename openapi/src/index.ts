export type { DocumentName, OpenApiDocument } from './documents.js';
export {
  OpenApiDocumentError,
  documentPath,
  loadDocument,
  packageRoot,
  parseDocument,
} from './documents.js';
export type {
  ApiErrorOptions,
  CoreErrorCode,
  ErrorStatusTable,
  FieldError,
  ProblemDocument,
} from './problem.js';
export { ApiError, PROBLEM_MEDIA_TYPE, problemFor } from './problem.js';
export type {
  HttpMethod,
  OpenApiValidator,
  OperationInfo,
  ParameterInfo,
  ParameterLocation,
  RequestParts,
  ValidatedRequest,
  ValidationResult,
} from './validator.js';
export { collectOperations, createOpenApiValidator } from './validator.js';
export type {
  ApiCodeTable,
  ApiRouter,
  ApiRouterOptions,
  ApiRouterSettings,
  OperationHandler,
  OperationInput,
  ResponseViolation,
} from './express.js';
export { createApiRouter } from './express.js';
export type { DocsOptions } from './docs.js';
export { docsRouter, swaggerUiDistPath } from './docs.js';
export type {
  ProviderComponents,
  ProviderErrorCode,
  ProviderOperations,
  ProviderPaths,
  ProviderSchema,
} from './provider-errors.js';
export { PROVIDER_ERROR_STATUS, ProviderApiError } from './provider-errors.js';
export type {
  components as DirectoryComponents,
  operations as DirectoryOperations,
  paths as DirectoryPaths,
} from '../generated/directory.js';
export type { DirectoryErrorCode } from './directory-errors.js';
export { DIRECTORY_CORE_CODES, DIRECTORY_ERROR_STATUS } from './directory-errors.js';
