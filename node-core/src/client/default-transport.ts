// The transport a GyreClient gets unless given one: node:http here; bundlers building for a
// browser read package.json's "browser" field and take default-transport.browser.ts instead.
export { nodeTransport as defaultTransport } from './http.js';
