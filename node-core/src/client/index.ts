// The package's main entry (`import { GyreClient } from 'gyre'`): the client library and its
// types. Nothing here starts a node or loads SQLite; node-core's server side is not exported.

export { GyreClient, encodeKey, type CallOptions, type GyreClientOptions, type ReadResult, type ResolveOptions, type RetryOptions, type Sibling, type UpdateFunction, type UpdateOptions, type Value, type WriteOptions } from './client.js';
export { AuthError, GyreError, SiblingsError, UnavailableError, type Attempt } from './errors.js';
export { HttpError, type RawRequest, type RawResponse, type Transport, type TransportOptions } from './transport.js';
export { jsonMerge, jsonSetUnion, lastWriterWins, mergeWith, resolvers, type Resolver, type ValueInput } from './resolvers.js';
export type { ReplicasDocument, StatusDocument, StatusMemberJson } from '../wire/api.js';
