// One line per control event, for the event logs.
import type { ControlEvent } from './types';

export function describeEvent(e: ControlEvent): string {
  switch (e.type) {
    case 'member-status':
      return `${e.node} sees ${e.member} ${e.from} → ${e.to}`;
    case 'member-state':
      return `${e.member} ${e.from} → ${e.to} (per ${e.node})`;
    case 'transfer-started':
      return `transfer of p${e.partition} ${e.from} → ${e.to} started`;
    case 'transfer-finished':
      return `transfer of p${e.partition} finished on ${e.node}: ${e.keys} keys in ${e.ms} ms`;
    case 'hints-delivered':
      return `${e.node} delivered ${e.count} hints to ${e.target}`;
    case 'ae-repair':
      return `anti-entropy ${e.node} ↔ ${e.peer}: p${e.partition}, ${e.keys} keys repaired`;
    case 'fault-injected':
      return `fault injected: ${e.fault.description || e.fault.kind}`;
    case 'fault-healed':
      return `fault ${e.reason}: ${e.fault.description || e.fault.kind}`;
    default:
      return JSON.stringify(e);
  }
}

export function eventTone(e: ControlEvent): 'critical' | 'warning' | 'info' | 'ok' {
  switch (e.type) {
    case 'member-status':
      return e.to === 'down' ? 'critical' : e.to === 'suspect' ? 'warning' : e.to === 'up' ? 'ok' : 'info';
    case 'fault-injected':
      return 'warning';
    case 'fault-healed':
    case 'hints-delivered':
    case 'transfer-finished':
      return 'ok';
    default:
      return 'info';
  }
}
