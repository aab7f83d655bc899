// The console's preload (sandboxed, so CommonJS and only `electron` may be required): it
// exposes `window.gyre` with one named function per console method, plus `call` and `on` for
// the renderer's transport, and never ipcRenderer itself (STYLE 12). The lists mirror
// consoleMethods and consolePushes in node-core/src/wire/console.ts (a sandboxed preload
// cannot import it); test/core/console-protocol.test.ts checks they match.

import { contextBridge, ipcRenderer } from 'electron';

const methods = [
  'connection',
  'listProfiles',
  'saveProfile',
  'deleteProfile',
  'attach',
  'detach',
  'trace',
  'inspectKey',
  'keyPosition',
  'resolveKey',
  'injectFault',
  'healFaults',
  'killNode',
  'restartNode',
  'startWorkload',
  'stopWorkload',
  'workloadStatus',
  'nodeDetails',
  'nodeLog',
  'planMembership',
  'commitMembership',
  'membershipProgress',
  'history',
  'historyCsv',
  'listAudit',
  'alertRules',
  'saveAlertRules',
  'alerts',
  'listKeys',
  'causalGraph',
  'partitionsDetail',
  'repairPartition',
  'whatIf',
  'listScenarios',
  'saveScenario',
  'deleteScenario',
  'runScenario',
  'stopRun',
  'listRuns',
  'getRun',
];
const pushes = ['cluster', 'events', 'connection', 'workload', 'membership', 'alerts', 'experiment'];

const call = (method: string, args: unknown[]): Promise<unknown> => {
  if (!methods.includes(method)) return Promise.resolve({ ok: false, error: `no console method ${method}` });
  return ipcRenderer.invoke(`console:${method}`, args);
};

const api: Record<string, unknown> = {
  call,
  on(push: string, listener: (value: unknown) => void): () => void {
    if (!pushes.includes(push)) throw new Error(`no console push ${push}`);
    const handler = (_e: unknown, value: unknown) => listener(value);
    ipcRenderer.on(`console:${push}`, handler);
    return () => ipcRenderer.removeListener(`console:${push}`, handler);
  },
};
for (const m of methods) api[m] = (...args: unknown[]) => call(m, args);

contextBridge.exposeInMainWorld('gyre', api);
