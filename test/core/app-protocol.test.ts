// The desktop window's origin (electron/backend/app-protocol.ts): app://gyre/ serves the
// renderer's build and nothing outside it, and only frames on that origin are IPC senders.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appEntry, appFile, desktopContentSecurityPolicy, isTrustedSender } from '../../electron/backend/app-protocol.js';

const root = join('/opt', 'gyre', 'renderer');

test('app://gyre/ maps to files inside the build, index.html at the root', () => {
  assert.deepEqual(appFile(root, appEntry), { ok: true, file: join(root, 'index.html'), type: 'text/html; charset=utf-8' });
  assert.deepEqual(appFile(root, 'app://gyre/'), { ok: true, file: join(root, 'index.html'), type: 'text/html; charset=utf-8' });
  const js = appFile(root, 'app://gyre/assets/index-abc.js');
  assert.ok(js.ok && js.file === join(root, 'assets', 'index-abc.js') && js.type.startsWith('text/javascript'));
});

test('nothing outside the build, nothing from another host, nothing malformed', () => {
  for (const url of ['app://gyre/../../etc/passwd', 'app://gyre/%2e%2e/%2e%2e/etc/passwd', 'app://gyre/..%2F..%2Fetc%2Fpasswd', 'app://gyre/assets/%2e%2e/%2e%2e/x']) {
    const r = appFile(root, url);
    assert.ok(!r.ok || r.file.startsWith(`${root}/`), `${url} escapes: ${JSON.stringify(r)}`);
  }
  assert.deepEqual(appFile(root, 'app://gyre/..%2F..%2Fetc%2Fpasswd'), { ok: false, status: 404 });
  assert.deepEqual(appFile(root, 'app://other/index.html'), { ok: false, status: 404 });
  assert.deepEqual(appFile(root, 'app://gyre/%E0'), { ok: false, status: 400 });
});

test('only frames on app://gyre are trusted IPC senders', () => {
  assert.equal(isTrustedSender('app://gyre/index.html#/chaos'), true);
  for (const url of [undefined, '', 'file:///opt/gyre/renderer/index.html', 'https://evil.example/', 'app://gyre.evil/', 'app://other/index.html', 'about:blank', 'not a url']) assert.equal(isTrustedSender(url), false, String(url));
});

test('the desktop CSP connects nowhere but its own origin and runs only its own scripts', () => {
  assert.match(desktopContentSecurityPolicy, /connect-src 'self';/);
  assert.match(desktopContentSecurityPolicy, /script-src 'self';/);
  assert.doesNotMatch(desktopContentSecurityPolicy, /ws:|wss:|\*/);
});
