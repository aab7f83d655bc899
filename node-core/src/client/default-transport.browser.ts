// The transport a GyreClient gets in a browser (package.json "browser" maps
// default-transport.js to this file): fetch.
export { fetchTransport as defaultTransport } from './fetch.js';
