// The client library against a running cluster (npm start, or npx gyre up):
//   node examples/quickstart.mjs [http://127.0.0.1:7070,...]
// GYRE_TOKEN is sent where set. Inside this repository `gyre` resolves to the package itself;
// in your project, after `npm install gyre`, the import is the same.

import { GyreClient, jsonSetUnion } from 'gyre';

const urls = (process.argv[2] ?? process.env.GYRE_URL ?? 'http://127.0.0.1:7070').split(',');
const db = new GyreClient({ urls, token: process.env.GYRE_TOKEN });
const run = Date.now().toString(36);

// A write, acknowledged once W replicas committed it, and a read at R.
await db.put(`greeting-${run}`, 'hello', { contentType: 'text/plain' });
const read = await db.get(`greeting-${run}`);
console.log(`read ${read.status}: ${read.siblings[0].value.toString()} (context ${read.context.slice(0, 12)}...)`);

// Two writers who did not see each other: Dynamo keeps both as siblings.
const cart = `cart-${run}`;
const [first, second] = db.members.length > 1 ? db.members : [db.url, db.url];
await new GyreClient({ url: first, token: process.env.GYRE_TOKEN, failover: false }).put(cart, JSON.stringify(['apples']));
await new GyreClient({ url: second, token: process.env.GYRE_TOKEN, failover: false }).put(cart, JSON.stringify(['pears']));
console.log(`the cart has ${(await db.get(cart)).siblings.length} sibling(s)`);

// update: read, merge the siblings (a set union keeps every item added), add one, write back with the context.
await db.update(cart, (cur) => JSON.stringify([...JSON.parse(cur.value.toString()), 'plums']), { resolve: jsonSetUnion });
const merged = await db.getValue(cart);
console.log(`after update: ${merged.value.toString()} (${(await db.get(cart)).siblings.length} sibling)`);

console.log(`members: ${db.members.join(', ')}`);
db.close();
