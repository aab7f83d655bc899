// One client thread of `gyre bench --threads N`: runs the share it is handed and posts its
// progress and result back (load.ts merges the shares).

import { parentPort, workerData } from 'node:worker_threads';
import { type Share, runShare } from './load.js';

const port = parentPort!;
const result = await runShare(workerData as Share, (completed) => port.postMessage({ progress: completed }));
port.postMessage({ result });
