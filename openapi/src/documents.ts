import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The HTTP contracts kept in this package, by file name without `.yaml`. */
export type DocumentName = 'provider' | 'directory';

/** The parts of an OpenAPI 3.1 document this package reads; everything else passes through. */
export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly components?: Readonly<Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** Thrown when a document cannot be read or is not an OpenAPI 3.1 document. */
export class OpenApiDocumentError extends Error {
  override readonly name = 'OpenApiDocumentError';
}

// dist/src/documents.js -> package root; src/documents.ts -> package root.
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of a document in this package (for tools: linters, generators, docs). */
export function documentPath(name: DocumentName): string {
  return resolve(PACKAGE_ROOT, `${name}.yaml`);
}

/** Absolute path of this package's folder (where the `.yaml` documents live). */
export function packageRoot(): string {
  return PACKAGE_ROOT;
}

/**
 * Reads and parses a document of this package.
 *
 * @example
 * const doc = loadDocument('provider');
 */
export function loadDocument(name: DocumentName): OpenApiDocument {
  return parseDocument(readFileSync(documentPath(name), 'utf8'));
}

/** Parses YAML (or JSON) text into a document and checks it is OpenAPI 3.1. */
export function parseDocument(text: string): OpenApiDocument {
  const value: unknown = parse(text);
  if (typeof value !== 'object' || value === null) {
    throw new OpenApiDocumentError('an OpenAPI document must be a YAML or JSON object');
  }
  const doc = value as Partial<OpenApiDocument>;
  if (typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.1')) {
    throw new OpenApiDocumentError('only OpenAPI 3.1 documents are supported');
  }
  if (typeof doc.paths !== 'object' || doc.paths === null) {
    throw new OpenApiDocumentError('the document has no paths object');
  }
  return doc as OpenApiDocument;
}
