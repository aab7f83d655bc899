// gyre node's settings: flags > GYRE_* variables > the config file > defaults, one parser for
// all of them, every error at once naming where the bad value came from.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { asConfigFile, nodeSettingTable, resolveNodeSettings, type SettingsInput } from '../../node-core/src/cli/node-settings.js';

const base = (over: Partial<SettingsInput> = {}): SettingsInput => ({ flags: {}, env: {}, resolvePath: resolve, ...over });
const file = (json: unknown) => ({ name: '/etc/gyre/a.json', folder: '/etc/gyre', json });

function ok(input: SettingsInput) {
  const r = resolveNodeSettings(input);
  if (!r.ok) assert.fail(`refused: ${r.errors.join('; ')}`);
  return r;
}
function refused(input: SettingsInput): string {
  const r = resolveNodeSettings(input);
  assert.equal(r.ok, false, 'expected a refusal');
  return r.ok ? '' : r.errors.join('\n');
}

test('a flag beats the environment, which beats the file, which beats the default; each is said', () => {
  const input = base({ flags: { id: 'a', w: '1' }, env: { GYRE_W: '3', GYRE_R: '1', GYRE_PORT: '7070' }, file: file({ port: 9000, r: 3, n: 3, partitions: 128 }) });
  const r = ok(input);
  assert.equal(r.settings.w, 1);
  assert.equal(r.sources.w, 'flag');
  assert.equal(r.settings.r, 1);
  assert.equal(r.sources.r, 'env');
  assert.equal(r.settings.port, 7070);
  assert.equal(r.settings.partitions, 128);
  assert.equal(r.sources.partitions, 'file');
  assert.equal(r.settings.sync, 'normal');
  assert.equal(r.sources.sync, 'default');
  assert.equal(r.settings.host, '127.0.0.1');
  assert.equal(r.settings.advertise, '127.0.0.1');
});

test('an empty variable counts as unset (GYRE_TOKEN= in a unit file must not shadow the file)', () => {
  const r = ok(base({ flags: { id: 'a' }, env: { GYRE_PORT: '' }, file: file({ port: 7001 }) }));
  assert.equal(r.settings.port, 7001);
});

test('every bad value is refused at once, naming its flag, variable or file key', () => {
  const why = refused(base({ flags: { id: 'bad id!', port: '70000' }, env: { GYRE_SYNC: 'sometimes', GYRE_SEEDS: 'a:1,nope' }, file: file({ n: 'three', logLevel: 'loud' }) }));
  for (const part of ['--id', '--port: must be in 0..65535', 'GYRE_SYNC: must be one of normal, full', 'GYRE_SEEDS: "nope" is not host:port', 'n in /etc/gyre/a.json: must be an integer', 'logLevel in /etc/gyre/a.json']) assert.ok(why.includes(part), `missing ${JSON.stringify(part)} in:\n${why}`);
});

test('a config file with an unknown key or a token in it is refused; "//" keys are comments', () => {
  const why = refused(base({ file: file({ id: 'a', port: 1, prot: 2, token: 'x', adminToken: 'y' }) }));
  assert.match(why, /unknown setting "prot"/);
  assert.match(why, /"token" does not belong in a config file/);
  assert.match(why, /"adminToken" does not belong/);
  ok(base({ file: file({ '//': 'a comment', id: 'a', port: 1 }) }));
  assert.match(refused(base({ file: file([1, 2]) })), /a JSON object of settings/);
});

test('id and port are required; the rules between settings hold', () => {
  assert.match(refused(base()), /no node id[\s\S]*no client port/);
  assert.match(refused(base({ flags: { id: 'a', port: '1', partitions: '100' } })), /power of two/);
  assert.match(refused(base({ flags: { id: 'a', port: '1', n: '2', w: '3' } })), /must not exceed --n/);
  assert.match(refused(base({ flags: { id: 'a', port: '7000', internodePort: '7000' } })), /must differ/);
  assert.match(refused(base({ flags: { id: 'a', port: '1', tlsCert: 'c.pem' } })), /go together/);
  assert.match(refused(base({ flags: { id: 'a', port: '1', tlsCa: 'ca.pem' } })), /--tls-ca needs/);
});

test('a wildcard host needs --advertise, and --advertise cannot be a wildcard', () => {
  for (const host of ['0.0.0.0', '::']) assert.match(refused(base({ flags: { id: 'a', port: '1', host } })), /give --advertise/);
  assert.match(refused(base({ flags: { id: 'a', port: '1', host: '0.0.0.0', advertise: '0.0.0.0' } })), /is a wildcard/);
  const r = ok(base({ flags: { id: 'a', port: '1', host: '0.0.0.0', advertise: 'gyre-1.internal' } }));
  assert.equal(r.settings.advertise, 'gyre-1.internal');
  assert.match(refused(base({ flags: { id: 'a', port: '1', advertise: 'http://x:1' } })), /--advertise: must be a host name or an IP address/);
});

test('paths in the config file are taken from its folder; paths from flags are left to the working folder', () => {
  const r = ok(base({ flags: { logFile: 'here.log' }, file: file({ id: 'a', port: 1, dir: 'data/a', tokenFile: '/run/secrets/t', tlsCert: 'tls/c.pem', tlsKey: 'tls/k.pem' }) }));
  assert.equal(r.settings.dir, '/etc/gyre/data/a');
  assert.equal(r.settings.tokenFile, '/run/secrets/t');
  assert.equal(r.settings.tlsCert, '/etc/gyre/tls/c.pem');
  assert.equal(r.settings.logFile, 'here.log');
});

test('switches: a flag, a variable or a JSON boolean; anything else is refused', () => {
  assert.equal(ok(base({ flags: { id: 'a', port: '1', allowFaults: true } })).settings.allowFaults, true);
  assert.equal(ok(base({ flags: { id: 'a', port: '1' }, env: { GYRE_ALLOW_FAULTS: 'yes' } })).settings.allowFaults, true);
  assert.equal(ok(base({ flags: { id: 'a', port: '1' }, env: { GYRE_CONTROL: 'false' } })).settings.control, false);
  assert.match(refused(base({ file: file({ id: 'a', port: 1, allowFaults: 'maybe' }) })), /allowFaults in .*: must be true or false/);
});

test('--print-config output read back as a config file gives the same settings', () => {
  const first = ok(base({ flags: { id: 'a', port: '7070', host: '0.0.0.0', advertise: '10.0.0.5', seeds: '10.0.0.6:7070,10.0.0.7:7070', w: '3', logFile: '/var/log/gyre/a.log' }, env: { GYRE_SYNC: 'full' } }));
  const again = ok(base({ file: file(JSON.parse(JSON.stringify(asConfigFile(first.settings)))) }));
  assert.deepEqual(again.settings, first.settings);
  for (const k of Object.keys(asConfigFile(first.settings))) assert.ok(nodeSettingTable.some((s) => s.key === k), k);
});

test('the internode and RESP ports follow the client port (+1000, +2000) unless given; port 0 leaves them free', () => {
  const r = ok(base({ flags: { id: 'a', port: '7070' } }));
  assert.equal(r.settings.internodePort, 8070);
  assert.equal(r.settings.respPort, 9070);
  assert.equal(r.sources.internodePort, 'default');
  const given = ok(base({ flags: { id: 'a', port: '7070', internodePort: '7100' }, env: { GYRE_RESP_PORT: '0' } }));
  assert.equal(given.settings.internodePort, 7100);
  assert.equal(given.settings.respPort, 0);
  const free = ok(base({ flags: { id: 'a', port: '0' } }));
  assert.deepEqual([free.settings.internodePort, free.settings.respPort], [0, 0]);
  assert.match(refused(base({ flags: { id: 'a', port: '65000' } })), /leaves no room for the default --internode-port[\s\S]*leaves no room for the default --resp-port/);
  assert.match(refused(base({ flags: { id: 'a', port: '7070', respPort: '8070' } })), /must differ/);
});

test('every setting is reachable by its flag: the flag, camel-cased, is the key commander stores it under', () => {
  for (const s of nodeSettingTable) {
    const camel = s.flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    assert.equal(camel, s.key, `${s.flag} would be stored as ${camel}, not ${s.key}`);
    if (s.env) assert.equal(s.env, `GYRE_${s.flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`, `${s.flag}'s variable`);
  }
});

test('--cors-origins takes origins only', () => {
  assert.deepEqual(ok(base({ flags: { id: 'a', port: '1', corsOrigins: 'https://app.example.com,http://127.0.0.1:8080' } })).settings.corsOrigins, ['https://app.example.com', 'http://127.0.0.1:8080']);
  for (const bad of ['https://app.example.com/', 'app.example.com', 'ftp://x', '*']) assert.match(refused(base({ flags: { id: 'a', port: '1', corsOrigins: bad } })), /--cors-origins/, bad);
});

test('hosts: names, IPv4 and IPv6 (announced in brackets); no ports, no shorthands; every spelling of a wildcard needs --advertise', () => {
  const v6 = ok(base({ flags: { id: 'a', port: '7070', host: '::', advertise: 'fd00::1' } }));
  assert.equal(v6.settings.advertise, '[fd00::1]', 'an IPv6 address beside a port goes in brackets');
  assert.equal(v6.settings.host, '::');
  const loop6 = ok(base({ flags: { id: 'a', port: '7070', host: '[::1]' } }));
  assert.deepEqual([loop6.settings.host, loop6.settings.advertise], ['::1', '[::1]']);
  assert.equal(ok(base({ flags: { id: 'a', port: '1', advertise: 'gyre-1.example' } })).settings.advertise, 'gyre-1.example');
  for (const bad of ['10.0.0.5:7070', 'gyre-1:7070', '127.1', '0', 'http://x', 'a b']) assert.match(refused(base({ flags: { id: 'a', port: '1', advertise: bad } })), /--advertise: must be a host/, bad);
  for (const wildcard of ['0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0']) {
    assert.match(refused(base({ flags: { id: 'a', port: '1', host: wildcard } })), /give --advertise/, wildcard);
    assert.match(refused(base({ flags: { id: 'a', port: '1', host: '127.0.0.1', advertise: wildcard } })), /is a wildcard/, wildcard);
  }
});
