// `clerksync.fcgi status [--quiet-for DURATION]` against a private MariaDB:
// no schema, a fresh table, after real deliveries (through the binary as
// CGI, signed by the svix package), and with the clock moved past
// --quiet-for by rows whose received_at lies in the past.
//
// usage: node tests/php/status.mjs      (TAP; CLERKSYNC_BIN as run.mjs)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { cgiDriver, wrapArgv } from '../lib/drivers.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { onCleanup, spawnTracked, tmpDir, untrack } from '../lib/procs.mjs';
import { newMsgId, newSecret, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const fixtures = path.join(src, 'tests', 'fixtures', 'clerk');
const dir = tmpDir('clerksync-status-');
onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
const secret = newSecret();
let db;
let seq = 0;

function config(over = {}) {
  return writeConfig(path.join(dir, `clerksync-${++seq}.conf`), {
    signing_secret: secret,
    db_socket: db.socket,
    db_user: db.user,
    db_password: db.password,
    db_name: db.database,
    log_file: path.join(dir, 'clerksync.log'),
    ...over,
  });
}

// Run the binary with args (under CLERKSYNC_WRAP, e.g. valgrind, when
// set); resolves { code, out, err }.
function run(args, conf) {
  const w = wrapArgv();
  const [cmd, argv] = w.length ? [w[0], [...w.slice(1), bin, ...args]] : [bin, args];
  return new Promise((resolve) => {
    const child = spawnTracked(cmd, argv, { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: conf }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => {
      untrack(child.pid);
      resolve({ code, out, err });
    });
  });
}

// The family lines of the output, as { family: [last?, applied, stale] }.
function families(out) {
  const got = {};
  for (const m of out.matchAll(/^(users|organizations|memberships): (nothing recorded|last \S+ \S+ UTC \(([^)]*) ago\)); last 24 h: (\d+) applied, (\d+) stale$/gm)) {
    got[m[1]] = [m[2] === 'nothing recorded' ? 'none' : 'seen', Number(m[4]), Number(m[5])];
  }
  return got;
}

const fixture = (f) => fs.readFileSync(path.join(fixtures, f));

try {
  db = await startTempMariaDB();
  await db.createDatabase();
  diag(`mariadb ${db.socket}; binary ${bin}`);
  const conf = config();

  await test('status without a schema', async () => {
    const r = await run(['status'], conf);
    eq(r.code, 1, 'exit 1');
    ok(/^schema: none: run `clerksync.fcgi migrate`$/m.test(r.out), 'says to run migrate');
  });

  await test('status on a fresh table', async () => {
    eq((await run(['migrate'], conf)).code, 0, 'migrate');
    const r = await run(['status'], conf);
    eq(r.code, 0, 'exit 0');
    ok(/^schema: version \d+$/m.test(r.out), 'the schema version');
    eq(families(r.out), { users: ['none', 0, 0], organizations: ['none', 0, 0], memberships: ['none', 0, 0] },
      'each family: nothing recorded, 0 applied, 0 stale');
    ok(/^duplicates: not counted \(a replayed delivery writes no row\)$/m.test(r.out), 'duplicates: said not to be counted');
    const q = await run(['status', '--quiet-for', '2d'], conf);
    eq(q.code, 1, '--quiet-for 2d: exit 1 (nothing has ever arrived)');
    ok(/^quiet: nothing recorded in 30 days/m.test(q.out), 'and says so');
  });

  await test('status after deliveries', async () => {
    const cgi = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: conf }, dir });
    const send = async (body, id = newMsgId()) => (await cgi.send({ headers: signedHeaders(secret, body, { id }), body })).json;
    const id = newMsgId();
    eq((await send(fixture('user.created.json'), id)).status, 'applied', 'user.created applied');
    eq((await send(fixture('user.created.json'), id)).status, 'duplicate', 'the same svix-id again: duplicate');
    eq((await send(fixture('user.updated.json'))).status, 'applied', 'user.updated applied');
    eq((await send(fixture('user.updated.json'))).status, 'stale', 'the same state under a new svix-id: stale');
    eq((await send(fixture('organization.created.json'))).status, 'applied', 'organization.created applied');
    eq((await send(fixture('session.created.json'))).status, 'ignored', 'session.created ignored');
    const r = await run(['status'], conf);
    eq(r.code, 0, 'exit 0');
    eq(families(r.out), { users: ['seen', 2, 1], organizations: ['seen', 1, 0], memberships: ['none', 0, 0] },
      'users 2 applied and 1 stale, organizations 1 applied, memberships nothing; the duplicate and the ignored event are not rows');
    ok(/^users: last \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+[sm] ago\)/m.test(r.out), 'the time of the last delivery, UTC, and its age');
    const q = await run(['status', '--quiet-for', '90m'], conf);
    eq([q.code, /^quiet-for 1h 30m: ok$/m.test(q.out)], [0, true], '--quiet-for 90m: exit 0, ok');
  });

  await test('status with the clock past --quiet-for', async () => {
    await db.query('UPDATE clerk_webhook_events SET received_at = received_at - INTERVAL 3 DAY');
    await db.query("INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, event_ts, outcome, received_at) VALUES (?, 'organizationMembership.created', 'orgmem_1', 1, 'applied', UTC_TIMESTAMP(3) - INTERVAL 50 HOUR)", [newMsgId()]);
    const r = await run(['status'], conf);
    eq(r.code, 0, 'without --quiet-for: exit 0');
    eq(families(r.out), { users: ['seen', 0, 0], organizations: ['seen', 0, 0], memberships: ['seen', 0, 0] },
      'nothing in the last 24 hours');
    ok(/^users: last \S+ \S+ UTC \(3d 0h ago\)/m.test(r.out), 'users: 3d 0h ago');
    ok(/^memberships: last \S+ \S+ UTC \(2d 2h ago\)/m.test(r.out), 'memberships: 2d 2h ago');
    const q = await run(['status', '--quiet-for', '2d'], conf);
    eq(q.code, 1, '--quiet-for 2d: exit 1');
    ok(/^quiet: nothing arrived for 2d 2h, more than 2d 0h: /m.test(q.out), 'names the newest delivery (memberships, 2d 2h)');
    eq((await run(['status', '--quiet-for', '49h'], conf)).code, 1, '--quiet-for 49h: exit 1');
    eq((await run(['status', '--quiet-for', '51h'], conf)).code, 0, '--quiet-for 51h: exit 0');
    eq((await run(['status', '--quiet-for', '3060m'], conf)).code, 0, '--quiet-for 3060m (51 h): exit 0');
    await db.query("INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, event_ts, outcome, received_at) VALUES (?, 'clerksync.pull', 'user_1', 1, 'applied', UTC_TIMESTAMP(3))", [newMsgId()]);
    eq((await run(['status', '--quiet-for', '2d'], conf)).code, 1, 'a pull recorded now does not count as a delivery');
  });

  await test('status with table_prefix', async () => {
    const pc = config({ table_prefix: 'cs_' });
    eq((await run(['status'], pc)).code, 1, 'no cs_ tables: exit 1');
    eq((await run(['migrate'], pc)).code, 0, 'migrate with the prefix');
    await db.query("INSERT INTO cs_clerk_webhook_events (svix_id, event_type, object_id, event_ts, outcome, received_at) VALUES (?, 'user.updated', 'user_1', 1, 'stale', UTC_TIMESTAMP(3))", [newMsgId()]);
    const r = await run(['status', '--quiet-for', '1h'], pc);
    eq([r.code, families(r.out)], [0, { users: ['seen', 0, 1], organizations: ['none', 0, 0], memberships: ['none', 0, 0] }],
      'reads cs_clerk_webhook_events: 1 stale, exit 0');
  });

  await test('status: bad arguments and a database it cannot reach', async () => {
    for (const args of [['--quiet-for'], ['--quiet-for', '5x'], ['--quiet-for', '0m'], ['--quiet-for', '-1d'], ['--quiet-for', '367d'],
      ['--quiet-for', '2d', 'x'], ['--quietfor', '2d'], ['--quiet-for', 'd'], ['--quiet-for', ' 2d']]) {
      const r = await run(['status', ...args], conf);
      ok(r.code === 2 && /usage:/.test(r.err) && r.out === '', `status ${args.join(' ')}: exit 2 with the usage`);
    }
    const bad = config({ db_password: 'not-the-password-x' });
    const r = await run(['status', '--quiet-for', '1d'], bad);
    ok(r.code === 1 && /^database: /m.test(r.out), 'a wrong password: "database: …", exit 1');
    ok(!(r.out + r.err).includes('not-the-password-x') && !(r.out + r.err).includes(db.password), 'no password in the output');
  });
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (db) await db.stop();
}
process.exitCode = done() ? 1 : 0;
