#!/usr/bin/env node
// The first step of `npm test` (README): the browser tests drive a real chromium through
// playwright-core, which downloads no browser. Find one (GYRE_CHROMIUM, then chromium,
// chromium-browser, google-chrome, google-chrome-stable on PATH); where none exists and this
// process may install packages (root, Debian's apt-get), install Debian's chromium; otherwise
// stop at once with the one command to run. Plain JavaScript so it runs before the build.
// test/helpers/browser.ts makes the same search for the tests themselves.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const installCommand = 'apt-get update && apt-get install -y chromium';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function find() {
  const chosen = process.env.GYRE_CHROMIUM;
  if (chosen) {
    if (executable(chosen)) return chosen;
    fail(`GYRE_CHROMIUM=${chosen} is not an executable file: point it at a chromium or chrome binary, or unset it`);
  }
  for (const name of names) {
    const path = onPath(name);
    if (path) return path;
  }
  return undefined;
}

function fail(message) {
  console.error(`npm test: ${message}`);
  process.exit(1);
}

/** Installing is allowed as root on a machine with apt-get, unless GYRE_NO_INSTALL is set. */
function mayInstall() {
  return process.getuid?.() === 0 && !process.env.GYRE_NO_INSTALL && onPath('apt-get') !== undefined;
}

let browser = find();
if (!browser) {
  if (!mayInstall()) {
    const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
    fail(`the browser tests need chromium and none was found (GYRE_CHROMIUM, ${names.join(', ')}): run \`${sudo}apt-get update && ${sudo}apt-get install -y chromium\` (or set GYRE_CHROMIUM to a chrome binary), then npm test again`);
  }
  console.error(`npm test: no chromium found for the browser tests; installing Debian's: ${installCommand}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
    // dpkg's progress is thousands of lines: kept, and shown only if the step fails.
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'pipe', 'pipe'], env, maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0) console.error(`${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-30).join('\n'));
    if (r.status !== 0) fail(`\`apt-get ${args.join(' ')}\` failed (exit ${r.status ?? r.signal}): run \`${installCommand}\` by hand, then npm test again`);
  }
  browser = find();
  if (!browser) fail(`chromium was installed but is not on PATH: set GYRE_CHROMIUM to its binary`);
}
console.error(`npm test: browser tests use ${browser}`);
