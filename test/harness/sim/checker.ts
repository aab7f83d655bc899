// The checker is product code now (the console's experiments run it too): see
// node-core/src/verify/checker.ts. Re-exported for the harness and its tests.

export * from '../../../node-core/src/verify/checker.js';
