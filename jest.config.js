// Jest runs the compiled ESM output (`tsc -b` first), so tests exercise exactly what ships.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/dist/test/**/*.test.js'],
  testPathIgnorePatterns: ['/node_modules/'],
  modulePathIgnorePatterns: ['<rootDir>/data/'],
  transform: {},
  testTimeout: 60000,
  maxWorkers: 2,
};
