// backfill and reconcile against a local fake of Clerk's Backend API
// (tests/lib/fakeclerk.mjs: HTTPS with its own CA, pagination, the
// 100-per-10-s limit with 429 + Retry-After, injected 500s and slow
// answers) and a private MariaDB. Webhooks race the import through the
// CGI binary, signed as Svix signs them.
//
// usage: node tests/backfill/run.mjs      (TAP; CLERKSYNC_BIN as run.mjs)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { cgiDriver } from '../lib/drivers.mjs';
import { startFakeClerk } from '../lib/fakeclerk.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { onCleanup, sleep, spawnTracked, tmpDir, untrack } from '../lib/procs.mjs';
import { newSecret, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';
import {
  expectedDeleted, expectedMember, expectedOrg, expectedUser, MEMBER_COLUMNS, normaliseRow, normaliseUser, ORG_COLUMNS,
  USER_COLUMNS,
} from '../integ/expect.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const started = Date.now();
const dir = tmpDir('clerksync-backfill-');
onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));

let db;
let fc;
let confSeq = 0;
const secret = newSecret();

function config(over = {}) {
  return writeConfig(path.join(dir, `clerksync-${++confSeq}.conf`), {
    signing_secret: secret,
    db_socket: db.socket,
    db_user: db.user,
    db_password: db.password,
    db_name: db.database,
    log_file: path.join(dir, 'clerksync.log'),
    clerk_secret_key: fc.secretKey,
    clerk_api_url: fc.url,
    clerk_ca_file: fc.caFile,
    ...over,
  });
}

// Run the binary with args; resolves { code, out, err }.
function run(args, conf, { onSpawn, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawnTracked(bin, args, { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: conf, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    if (onSpawn) onSpawn(child);
    child.on('close', (code, signal) => {
      untrack(child.pid);
      resolve({ code, signal, out, err });
    });
  });
}

async function reset() {
  for (const t of ['users', 'organizations', 'organization_memberships', 'clerk_webhook_events', 'clerksync_backfill']) {
    await db.query(`DELETE FROM ${t}`);
  }
}

const summaryOf = (out, walk) => {
  const m = new RegExp(`^${walk}: (\\d+) read: (\\d+) inserted, (\\d+) updated, (\\d+) unchanged, (\\d+) stale .*?, (\\d+) failed$`, 'm').exec(out);
  return m ? { read: +m[1], inserted: +m[2], updated: +m[3], unchanged: +m[4], stale: +m[5], failed: +m[6] } : null;
};

async function usersTable() {
  const rows = await db.query(`SELECT ${USER_COLUMNS.join(', ')} FROM users`);
  return new Map(rows.map((r) => [r.clerk_id, normaliseUser(r)]));
}

// Every user of the fake, column by column; returns the mismatches.
async function compareUsers(want = (u) => expectedUser(u), skip = new Map()) {
  const got = await usersTable();
  const bad = [];
  for (const u of fc.users.values()) {
    if (skip.has(u.id)) continue;
    const w = want(u);
    const g = got.get(u.id);
    if (JSON.stringify(g) !== JSON.stringify(w)) bad.push(`${u.id}: ${g ? 'differs' : 'missing'}`);
  }
  return { bad, rows: got.size };
}

const webhook = (type, data, timestamp) => {
  const body = Buffer.from(JSON.stringify({ data, object: 'event', timestamp, type }));
  return { headers: signedHeaders(secret, body), body };
};

try {
  db = await startTempMariaDB();
  await db.createDatabase({ schemaDir: path.join(src, 'schema') });
  fc = await startFakeClerk();
  diag(`fake Backend API ${fc.url}; mariadb ${db.socket}`);

  await test('a full backfill of 10,000 users, organizations and memberships', async () => {
    await reset();
    const users = fc.addUsers(10000, { seed: 1 });
    const orgs = fc.addOrganizations(12, { seed: 1 });
    orgs.forEach((o, i) => {
      for (let k = 0; k < 1 + (i % 4); k++) fc.addMembership(o.id, users[i * 7 + k].id, { role: k ? 'org:member' : 'org:admin' });
    });
    const t = Date.now();
    const r = await run(['backfill'], config());
    diag(`backfill of ${fc.users.size} users, ${fc.organizations.size} organizations, ${fc.memberships.size} memberships: ${Date.now() - t} ms, ${fc.requests.length} requests`);
    eq(r.code, 0, 'backfill exits 0');
    if (r.code !== 0) diag(r.out + r.err);
    eq(summaryOf(r.out, 'users'), { read: 10000, inserted: 10000, updated: 0, unchanged: 0, stale: 0, failed: 0 }, 'summary: 10,000 users inserted');
    eq(summaryOf(r.out, 'organizations'), { read: 12, inserted: 12, updated: 0, unchanged: 0, stale: 0, failed: 0 }, 'summary: 12 organizations');
    eq(summaryOf(r.out, 'memberships') && summaryOf(r.out, 'memberships').inserted, fc.memberships.size, 'summary: every membership inserted');
    const { bad, rows } = await compareUsers();
    eq([rows, bad.slice(0, 5)], [10000, []], 'users table: every user exactly as the API has it');
    let orgBad = 0;
    for (const o of fc.organizations.values()) {
      const [row] = await db.query(`SELECT ${ORG_COLUMNS.join(', ')} FROM organizations WHERE clerk_id = ?`, [o.id]);
      if (!row || JSON.stringify(normaliseRow(row, ORG_COLUMNS)) !== JSON.stringify(expectedOrg(o))) orgBad++;
    }
    eq(orgBad, 0, 'organizations table: exact');
    let memBad = 0;
    for (const m of fc.memberships.values()) {
      const [row] = await db.query(`SELECT ${MEMBER_COLUMNS.join(', ')} FROM organization_memberships WHERE clerk_id = ?`, [m.id]);
      if (!row || JSON.stringify(normaliseRow(row, MEMBER_COLUMNS)) !== JSON.stringify(expectedMember(m))) memBad++;
    }
    eq(memBad, 0, `organization_memberships table: exact (${fc.memberships.size} rows)`);
    eq((await db.query('SELECT COUNT(*) AS n FROM clerk_webhook_events'))[0].n, 0, 'no events rows: an import is not a webhook');
    ok(fc.maxInWindow(10000) <= 100 && fc.count429 === 0, `never more than 100 requests in 10 s (max ${fc.maxInWindow(10000)}, ${fc.count429} answered 429)`);
    eq(fc.authFailures, 0, 'every request carried the secret key');
    const log = fs.existsSync(path.join(dir, 'clerksync.log')) ? fs.readFileSync(path.join(dir, 'clerksync.log'), 'utf8') : '';
    ok(!(r.out + r.err + log).includes(fc.secretKey), 'the secret key is in no output and no log');

    const again = await run(['backfill'], config());
    eq([again.code, summaryOf(again.out, 'users')], [0, { read: 10000, inserted: 0, updated: 0, unchanged: 10000, stale: 0, failed: 0 }],
      'a second backfill: everything unchanged');
  });

  await test('a backfill racing webhooks ends in the newest state', async () => {
    await reset();
    const all = [...fc.users.values()];
    const newer = all.slice(0, 40);
    const deleted = all.slice(40, 80);
    const older = all.slice(80, 120);
    const cgi = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: config() }, dir });
    const hooks = [];
    for (const u of newer) hooks.push(webhook('user.updated', { ...u, first_name: 'From the webhook', updated_at: u.updated_at + 500 }, u.updated_at + 510));
    for (const u of deleted) hooks.push(webhook('user.deleted', { deleted: true, id: u.id, object: 'user' }, u.updated_at + 700));
    for (const u of older) hooks.push(webhook('user.updated', { ...u, first_name: 'Older', updated_at: u.updated_at - 500 }, u.updated_at - 490));
    // The import reads small pages so that it is under way while the
    // webhooks land, half of them before it starts.
    const answers = [];
    for (const h of hooks.slice(0, 60)) answers.push((await cgi.send(h)).json);
    const walking = run(['backfill', '--limit', '100'], config());
    for (const h of hooks.slice(60)) answers.push((await cgi.send(h)).json);
    const r = await walking;
    eq(r.code, 0, 'backfill exits 0');
    ok(answers.every((a) => a && ['applied', 'stale'].includes(a.status)), 'every webhook answered applied or stale');
    const del = new Map(deleted.map((u) => [u.id, u]));
    const nw = new Set(newer.map((u) => u.id));
    const { bad } = await compareUsers((u) => {
      if (nw.has(u.id)) return expectedUser({ ...u, first_name: 'From the webhook', updated_at: u.updated_at + 500 });
      if (del.has(u.id)) return null;
      return expectedUser(u);
    }, del);
    eq(bad.slice(0, 5), [], 'newer webhook states kept, older webhook states replaced by the API');
    // A deleted user: tombstone or deleted row, whichever came first; the
    // Clerk times are those of the import if it came first.
    const got = await usersTable();
    const delBad = deleted.filter((u) => {
      const g = got.get(u.id);
      const t = expectedDeleted(null, { data: { id: u.id }, timestamp: u.updated_at + 700 });
      const d = expectedDeleted(expectedUser(u), { data: { id: u.id }, timestamp: u.updated_at + 700 });
      return JSON.stringify(g) !== JSON.stringify(t) && JSON.stringify(g) !== JSON.stringify(d);
    });
    eq(delBad.map((u) => u.id), [], 'users deleted by webhook stay deleted, personal columns cleared (never brought back)');
    const s = summaryOf(r.out, 'users');
    ok(s && s.read === 10000 && s.stale >= 40, `the summary counts the stale ones (${JSON.stringify(s)})`);
  });

  await test('an interrupted backfill resumes where it stopped', async () => {
    await reset();
    fc.delayMs = 40;
    let child;
    const first = run(['backfill', '--limit', '200'], config(), { onSpawn: (c) => (child = c) });
    const before = fc.requests.length;
    while (fc.requests.length - before < 12) await sleep(20);
    child.kill('SIGKILL');
    const killed = await first;
    fc.delayMs = 0;
    const [{ n: partial }] = await db.query('SELECT COUNT(*) AS n FROM users');
    ok(killed.code !== 0 && Number(partial) > 0 && Number(partial) < 10000, `killed mid-walk with ${partial} users written`);
    const mark = fc.requests.length;
    const r = await run(['backfill', '--limit', '200'], config());
    const m = /^users: resuming at offset (\d+)$/m.exec(r.out);
    ok(r.code === 0 && m && Number(m[1]) > 0, `the second run resumes (${m ? m[0] : r.out.split('\n')[0]})`);
    const userPages = fc.requests.slice(mark).filter((q) => q.path === '/v1/users').length;
    ok(userPages < 50, `and reads only the rest: ${userPages} of 50 pages`);
    const { bad, rows } = await compareUsers();
    eq([rows, bad.slice(0, 5)], [10000, []], 'after the resume every user is exact');
  });

  await test('429 with Retry-After is honoured', async () => {
    await reset();
    const slow = await startFakeClerk({ rateLimit: 5, rateWindowMs: 1000, secretKey: fc.secretKey });
    slow.addUsers(300, { seed: 3 });
    const r = await run(['backfill', '--limit', '20'], config({ clerk_api_url: slow.url, clerk_ca_file: slow.caFile, clerk_rate_limit: '20/1', events: 'users' }));
    eq(r.code, 0, 'backfill exits 0');
    ok(slow.count429 > 0, `the fake answered 429 (${slow.count429} times)`);
    const m = /answered 429/.exec(r.out) && /(\d+) answered 429/.exec(r.out);
    eq(m && Number(m[1]), slow.count429, 'the summary counts them');
    // After a 429 the next request waits for the Retry-After second.
    const reqs = slow.requests;
    let early = 0;
    for (let i = 0; i + 1 < reqs.length; i++) if (reqs[i].status === 429 && reqs[i + 1].t - reqs[i].t < 900) early++;
    eq(early, 0, 'no request came sooner than Retry-After after a 429');
    eq((await db.query('SELECT COUNT(*) AS n FROM users'))[0].n, 300, 'every user imported');
    await slow.close();
  });

  await test('the client stays under its limit by itself', async () => {
    await reset();
    const lim = await startFakeClerk({ rateLimit: 40, rateWindowMs: 2000, secretKey: fc.secretKey });
    lim.addUsers(1900, { seed: 4 });
    const t = Date.now();
    const r = await run(['backfill', '--limit', '20'], config({ clerk_api_url: lim.url, clerk_ca_file: lim.caFile, clerk_rate_limit: '40/2', events: 'users' }));
    diag(`${lim.requests.length} requests in ${Date.now() - t} ms`);
    eq(r.code, 0, 'backfill exits 0');
    ok(lim.requests.length >= 96, `${lim.requests.length} requests made`);
    ok(lim.maxInWindow(2000) <= 40 && lim.count429 === 0, `at most 40 in any 2 s (max ${lim.maxInWindow(2000)}), no 429`);
    await lim.close();
  });

  await test('5xx and timeouts are retried with backoff', async () => {
    await reset();
    fc.failNext(2, 503);
    const r = await run(['backfill', '--restart'], config({ events: 'users' }));
    eq(r.code, 0, 'two 503s: backfill exits 0');
    ok(/2 retried/.test(r.out), 'the summary counts 2 retries');
    fc.slowNext(1, 3000);
    const t = await run(['backfill', '--restart', '--timeout', '1'], config({ events: 'users' }));
    ok(t.code === 0 && /1 retried/.test(t.out), `a timed-out request is retried (${t.out.split('\n').find((l) => l.startsWith('api:'))})`);
    fc.failNext(10, 500);
    const mark = fc.requests.length;
    const f = await run(['backfill', '--restart'], config({ events: 'users' }));
    ok(f.code === 1 && /stopped: .*HTTP 500 \(6 tries\)/.test(f.out), 'after 6 failed tries it stops, saying why');
    ok(fc.requests.length - mark === 6 && /5 retried/.test(f.out), `6 tries in all, 5 of them retries, as the README says (${fc.requests.length - mark} requests)`);
    fc.failNext(0);
  });

  await test('a wrong key, plain HTTP and a missing key', async () => {
    const bad = await run(['backfill'], config({ clerk_secret_key: 'sk_test_wrong' }));
    ok(bad.code === 1 && /clerk_secret_key/.test(bad.out) && !bad.out.includes('sk_test_wrong'), 'a refused key: exit 1, names the setting, not the key');
    const plain = await run(['backfill'], config({ clerk_api_url: fc.url.replace('https:', 'http:') }));
    ok(plain.code === 1 && /clerk_api_url/.test(plain.out + plain.err), 'an http:// URL is refused');
    const none = await run(['backfill'], config({ clerk_secret_key: '' }));
    ok(none.code === 1 && /clerk_secret_key: not set/.test(none.out), 'no key: says so');
    const noca = await run(['backfill'], config({ clerk_ca_file: '' }));
    ok(noca.code === 1 && /stopped:/.test(noca.out), 'TLS is verified: a certificate from an unknown CA fails');
  });

  await test('reconcile marks exactly the users Clerk no longer has', async () => {
    await reset();
    const r0 = await run(['backfill'], config());
    eq(r0.code, 0, 'a fresh backfill first');
    const gone = [...fc.users.values()].slice(500, 530);
    for (const u of gone) fc.deleteUser(u.id);
    const orgGone = [...fc.organizations.values()][0];
    const orgMembers = (await db.query('SELECT clerk_id FROM organization_memberships WHERE org_clerk_id = ?', [orgGone.id])).map((x) => x.clerk_id);
    fc.deleteOrganization(orgGone.id);
    const dry = await run(['reconcile', '--dry-run'], config());
    eq(dry.code, 0, 'reconcile --dry-run exits 0');
    eq((dry.out.match(/^would mark user_\S+: deleted in Clerk$/gm) || []).length, 30, 'dry run reports the 30 deleted users');
    ok(/^would mark org_\S+: deleted in Clerk$/m.test(dry.out), 'and the deleted organization');
    eq((await db.query('SELECT COUNT(*) AS n FROM users WHERE deleted_at IS NOT NULL'))[0].n, 0, 'dry run: nothing written');
    // The dry run is the real writes rolled back: what the guard decides.
    ok(new RegExp(`^users: ${fc.users.size} read: would be 0 inserted, would be 0 updated, ${fc.users.size} unchanged, 0 stale`, 'm').test(dry.out),
      `dry run: every listed user unchanged (${(dry.out.match(/^users: .*$/m) || ['no summary'])[0]})`);
    // A user that only a webhook has told of, written while the walk runs:
    // the walk could not list it, so it is not a candidate.
    const cgi = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: config() }, dir });
    const fresh = { ...[...fc.users.values()][0], id: 'user_onlyfromawebhook000000001', updated_at: Date.now() };
    fc.delayMs = 30;
    const mark = fc.requests.length;
    const walking = run(['reconcile', '--limit', '200'], config());
    while (fc.requests.length - mark < 5) await sleep(20);
    const res = await cgi.send(webhook('user.created', fresh, Date.now()));
    eq(res.json && res.json.status, 'applied', 'a webhook-only user written during the walk');
    const r = await walking;
    fc.delayMs = 0;
    eq(r.code, 0, 'reconcile exits 0');
    const deletedNow = (await db.query('SELECT clerk_id FROM users WHERE deleted_at IS NOT NULL ORDER BY clerk_id')).map((x) => x.clerk_id);
    eq(deletedNow, gone.map((u) => u.id).sort(), 'exactly the 30 users missing from Clerk are marked deleted');
    const [row] = await db.query('SELECT email, first_name FROM users WHERE clerk_id = ?', [gone[0].id]);
    eq([row.email, row.first_name], [null, null], 'their personal columns are cleared, as for user.deleted');
    const [o] = await db.query('SELECT deleted_at IS NOT NULL AS d FROM organizations WHERE clerk_id = ?', [orgGone.id]);
    eq(o && Number(o.d), 1, 'the deleted organization is marked deleted');
    const ended = await db.query('SELECT COUNT(*) AS n FROM organization_memberships WHERE org_clerk_id = ? AND deleted_at IS NOT NULL', [orgGone.id]);
    eq(Number(ended[0].n), orgMembers.length, 'and its memberships ended');
    const [w] = await db.query('SELECT deleted_at FROM users WHERE clerk_id = ?', ['user_onlyfromawebhook000000001']);
    eq(w && w.deleted_at, null, 'the webhook-only user created after the walk began stays live');
    // The fake has no such user: the next reconcile finds it, and only it.
    const again = await run(['reconcile'], config());
    ok(again.code === 0 && /users: 1 deleted in Clerk marked deleted/.test(again.out) &&
      /^marked user_onlyfromawebhook000000001: deleted in Clerk$/m.test(again.out), 'the next reconcile marks that one, and nothing else');
  });

  // A fake of its own, fast: no rate limit worth the name.
  const ownFake = async (opts = {}) => startFakeClerk({ secretKey: fc.secretKey, rateLimit: 100000, rateWindowMs: 1000, ...opts });
  const on = (f, over = {}) => config({ clerk_api_url: f.url, clerk_ca_file: f.caFile, clerk_rate_limit: '1000/1', ...over });
  const deletedIds = async () => (await db.query('SELECT clerk_id FROM users WHERE deleted_at IS NOT NULL ORDER BY clerk_id')).map((x) => x.clerk_id);

  await test('reconcile with another instance\'s key refuses, and marks nothing deleted', async () => {
    await reset();
    const prod = await ownFake();
    const dev = await ownFake();
    prod.addUsers(40, { seed: 21 });
    dev.addUsers(30, { seed: 22 });
    eq((await run(['backfill'], on(prod, { events: 'users' }))).code, 0, 'the table holds the 40 users of one instance');
    const dry = await run(['reconcile', '--dry-run'], on(dev, { events: 'users' }));
    ok(dry.code === 3 && /^reconcile: users: the walk listed 0 of the 40 live rows, less than half: refused/m.test(dry.out) &&
      /^reconcile: would be refused: nothing marked deleted/m.test(dry.out), `--dry-run shows the numbers and the refusal (exit ${dry.code})`);
    const mark = dev.requests.length;
    const r = await run(['reconcile'], on(dev, { events: 'users' }));
    eq(r.code, 3, 'a key of another instance: reconcile exits 3');
    ok(/^reconcile: users: the walk listed 0 of the 40 live rows, less than half: refused/m.test(r.out), 'it names the numbers');
    ok(/^reconcile: refused: nothing marked deleted; .*--force$/m.test(r.out), 'and what to do if they are right');
    eq(await deletedIds(), [], 'not one row marked deleted');
    eq(dev.requests.slice(mark).filter((q) => q.path.startsWith('/v1/users/')).length, 0, 'and no user looked up one by one');
    // Its walk wrote that instance's users, as backfill with that key would (README).
    const f = await run(['reconcile', '--force'], on(dev, { events: 'users' }));
    eq(f.code, 0, '--force proceeds');
    eq(await deletedIds(), [...prod.users.keys()].sort(), 'and marks the 40 users that instance does not have');
    await prod.close();
    await dev.close();
  });

  await test('reconcile needs --force to mark more than 10 rows and more than 5 %', async () => {
    await reset();
    const p = await ownFake();
    const all = p.addUsers(200, { seed: 23 });
    eq((await run(['backfill'], on(p, { events: 'users' }))).code, 0, 'a backfill of 200 users');
    const ten = all.slice(20, 30);
    for (const u of ten) p.deleteUser(u.id);
    const r10 = await run(['reconcile'], on(p, { events: 'users' }));
    ok(r10.code === 0 && /^reconcile: users: the walk listed 190 of the 200 live rows; 10 deleted in Clerk$/m.test(r10.out),
      `10 of 200: marked without --force (exit ${r10.code})`);
    eq(await deletedIds(), ten.map((u) => u.id).sort(), 'exactly those 10');
    const eleven = all.slice(100, 111);
    for (const u of eleven) p.deleteUser(u.id);
    const dry = await run(['reconcile', '--dry-run'], on(p, { events: 'users' }));
    const says = /^reconcile: users: 11 of the 190 live rows would be marked deleted, more than 10 and more than 5 %: refused$/m;
    ok(dry.code === 3 && says.test(dry.out) && (dry.out.match(/^would mark user_\S+: deleted in Clerk$/gm) || []).length === 11,
      `--dry-run: the same numbers, the 11 it would mark (exit ${dry.code})`);
    const r = await run(['reconcile'], on(p, { events: 'users' }));
    ok(r.code === 3 && says.test(r.out), `11 of 190 (5.8 %): refused, exit 3, the numbers named (exit ${r.code})`);
    eq((await deletedIds()).length, 10, 'nothing more marked deleted');
    const f = await run(['reconcile', '--force'], on(p, { events: 'users' }));
    ok(f.code === 0 && /users: 11 deleted in Clerk marked deleted/.test(f.out), '--force marks them');
    eq(await deletedIds(), [...ten, ...eleven].map((u) => u.id).sort(), 'exactly the 21 missing from Clerk');
    await p.close();
  });

  await test('reconcile marks only on Clerk\'s resource_not_found, writes only the object asked for', async () => {
    await reset();
    const p = await ownFake();
    const all = p.addUsers(40, { seed: 24 });
    eq((await run(['backfill'], on(p, { events: 'users' }))).code, 0, 'a backfill of 40 users');
    const [html, other404, wrongId, gone] = [all[3], all[4], all[5], all[6]];
    for (const u of [html, other404, wrongId, gone]) p.deleteUser(u.id);
    p.override(`/v1/users/${html.id}`, 404, '<html><body>Not Found</body></html>');
    p.override(`/v1/users/${other404.id}`, 404, { errors: [{ code: 'not_found', message: 'no route' }] });
    const stranger = { ...all[7], id: 'user_nobodyaskedforthis0000001', first_name: 'Not asked for' };
    p.override(`/v1/users/${wrongId.id}`, 200, stranger);
    const r = await run(['reconcile'], on(p, { events: 'users' }));
    eq(r.code, 1, 'failed lookups: exit 1');
    eq(await deletedIds(), [gone.id], 'only the user Clerk says is not there is marked deleted');
    ok(/GET \/v1\/users\/user_\S+: a 404 that is not Clerk's resource_not_found: not marked/.test(r.out), 'a bare 404 is named as such');
    ok(r.out.includes(`answered with ${stranger.id}: not written`), 'so is an answer for another id');
    eq((await db.query('SELECT COUNT(*) AS n FROM users WHERE clerk_id = ?', [stranger.id]))[0].n, 0, 'which is not written');
    await p.close();
  });

  await test('a resumed backfill reads again the objects before its offset', async () => {
    await reset();
    const p = await ownFake();
    const first = p.addUsers(980, { seed: 25 });
    eq((await run(['backfill'], on(p, { events: 'users' }))).code, 0, 'a backfill of 980 users');
    // As if it had been killed at offset 980; meanwhile 3 of the first
    // 980 are deleted in Clerk and 40 users sign up.
    await db.query("UPDATE clerksync_backfill SET finished_at = NULL WHERE walk = 'users'");
    eq((await db.query("SELECT next_offset FROM clerksync_backfill WHERE walk = 'users'"))[0].next_offset, 980, 'recorded: next_offset 980');
    const later = p.addUsers(40, { seed: 26 });
    for (const i of [10, 500, 900]) p.deleteUser(first[i].id);
    const mark = p.requests.length;
    const r = await run(['backfill'], on(p, { events: 'users' }));
    ok(r.code === 0 && /^users: resuming at offset 980$/m.test(r.out), 'it resumes at 980');
    eq(p.requests.slice(mark).filter((q) => q.path === '/v1/users').map((q) => q.query.offset), ['960'], 'reading from 960');
    const got = await usersTable();
    eq(later.slice(0, 3).map((u) => Boolean(got.get(u.id))), [true, true, true], 'the users that were at 980-982 are imported');
    eq(later.filter((u) => !got.has(u.id)).length, 0, 'and every later one');
    await p.close();
  });

  await test('a backfill killed during organizations does not walk users again', async () => {
    await reset();
    const p = await ownFake();
    const users = p.addUsers(300, { seed: 27 });
    p.addOrganizations(30, { seed: 27 }).forEach((o, i) => p.addMembership(o.id, users[i].id));
    p.delayMs = 20;
    let child;
    const first = run(['backfill', '--limit', '5'], on(p), { onSpawn: (c) => (child = c) });
    const isOrgs = (q) => q.path === '/v1/organizations';
    while (p.requests.filter(isOrgs).length < 2) await sleep(10);
    child.kill('SIGKILL');
    await first;
    p.delayMs = 0;
    const orgsBefore = Number((await db.query('SELECT COUNT(*) AS n FROM organizations'))[0].n);
    ok(orgsBefore < 30, `killed during organizations (${orgsBefore} of 30 written)`);
    const mark = p.requests.length;
    const r = await run(['backfill', '--limit', '5'], on(p));
    eq(r.code, 0, 'the next backfill exits 0');
    ok(/^users: finished by the run that stopped, not walked again$/m.test(r.out), 'it says users are done');
    eq(p.requests.slice(mark).filter((q) => q.path === '/v1/users').length, 0, 'and reads no page of users');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM organizations'))[0].n), 30, 'every organization is there');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM organization_memberships'))[0].n), 30, 'every membership');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM users'))[0].n), 300, 'every user');
    const again = await run(['backfill', '--limit', '50'], on(p));
    ok(again.code === 0 && summaryOf(again.out, 'users') && summaryOf(again.out, 'users').read === 300,
      'once finished, the next backfill walks everything again');
    await p.close();
  });

  await test('libcurl\'s answers to each option are checked', async () => {
    // tests/backfill/curlshim.c: a libcurl.so.4 that forwards to the real
    // one, refuses the options named, and logs the long ones set.
    const real = ['/usr/lib/x86_64-linux-gnu/libcurl.so.4', '/usr/lib64/libcurl.so.4', '/usr/lib/libcurl.so.4'].find((f) => fs.existsSync(f));
    const shim = path.join(dir, 'curlshim');
    fs.mkdirSync(shim, { recursive: true });
    execFileSync(process.env.CC || 'cc', ['-std=c11', '-D_GNU_SOURCE', '-shared', '-fPIC', '-Wl,-soname,libcurlshim.so', '-o',
      path.join(shim, 'libcurl.so.4'), path.join(here, 'curlshim.c'), '-ldl']);
    const p = await ownFake();
    p.addUsers(5, { seed: 28 });
    const log = path.join(shim, 'options.log');
    const env = { LD_LIBRARY_PATH: shim, CURLSHIM_REAL: real, CURLSHIM_LOG: log };
    // CURLOPT_PROTOCOLS_STR (10318) is 7.85's; an older libcurl refuses it.
    const old = await run(['backfill', '--restart'], on(p, { events: 'users' }), { env: { ...env, CURLSHIM_REFUSE: '10318' } });
    eq(old.code, 0, 'a libcurl without CURLOPT_PROTOCOLS_STR: backfill works');
    const set = fs.readFileSync(log, 'utf8').split('\n');
    ok(set.includes('181 2'), 'with CURLOPT_PROTOCOLS (181) set to CURLPROTO_HTTPS (2) instead');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM users WHERE clerk_id IN (?)', [[...p.users.keys()]]))[0].n), 5, 'the users imported');
    const mark = p.requests.length;
    const refused = await run(['backfill', '--restart'], on(p, { events: 'users' }), { env: { ...env, CURLSHIM_REFUSE: '64' } });
    ok(refused.code === 1 && /libcurl refused CURLOPT_SSL_VERIFYPEER/.test(refused.out),
      `an option refused (CURLOPT_SSL_VERIFYPEER): exit 1, named (${refused.out.split('\n').find((l) => /stopped/.test(l))})`);
    eq(p.requests.length - mark, 0, 'and no request is sent');
    await p.close();
  });

  await test('reconcile ends a membership that Clerk no longer lists, and no other', async () => {
    await reset();
    const p = await ownFake();
    const users = p.addUsers(20, { seed: 31 });
    const orgs = p.addOrganizations(3, { seed: 31 });
    const mems = [];
    [[0, 1, 2, 3], [4, 5, 6], [7, 8]].forEach((us, i) => us.forEach((u) => mems.push(p.addMembership(orgs[i].id, users[u].id))));
    eq((await run(['backfill'], on(p))).code, 0, 'a backfill of 3 organizations, 9 memberships');
    const ended = async () => (await db.query('SELECT clerk_id FROM organization_memberships WHERE deleted_at IS NOT NULL ORDER BY clerk_id')).map((x) => x.clerk_id);
    // Removed in Clerk while its webhook was lost; the organization stays.
    p.deleteMembership(mems[1].id);
    const mark = p.requests.length;
    const r = await run(['reconcile'], on(p));
    eq(r.code, 0, 'reconcile exits 0');
    eq(await ended(), [mems[1].id], 'exactly that membership ended');
    ok(new RegExp(`^marked ${mems[1].id}: ended in Clerk$`, 'm').test(r.out) && /^memberships: 1 ended in Clerk marked ended/m.test(r.out), 'and said so');
    ok(p.requests.slice(mark).some((q) => q.path === '/v1/organization_memberships'), 'from the instance-wide list');
    eq(p.requests.slice(mark).filter((q) => /^\/v1\/organizations\/[^/]+\/memberships$/.test(q.path)).map((q) => q.path),
      [`/v1/organizations/${orgs[0].id}/memberships`], 'looked for again in its own organization\'s list only');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM organizations WHERE deleted_at IS NULL'))[0].n), 3, 'the organizations stay');
    // Where the instance-wide list answers 404, each organization's list is read.
    p.override('/v1/organization_memberships', 404, { errors: [{ code: 'resource_not_found', message: 'not found' }] });
    p.deleteMembership(mems[7].id);
    const f = await run(['reconcile'], on(p));
    ok(f.code === 0 && /organization_memberships answered 404/.test(f.out), `without the instance-wide list: exit ${f.code}, said so`);
    eq(await ended(), [mems[1].id, mems[7].id].sort(), 'the one removed since ends too, and no other');
    // Ending more than 10 and more than 5 % needs --force, as deletes do.
    p.override('/v1/organization_memberships');
    const [big] = p.addOrganizations(1, { seed: 32 });
    const many = users.slice(1, 19).map((u) => p.addMembership(big.id, u.id));
    eq((await run(['reconcile'], on(p))).code, 0, 'an organization with 18 members more, reconciled');
    for (const m of many.slice(0, 11)) p.deleteMembership(m.id);
    const r11 = await run(['reconcile'], on(p));
    ok(r11.code === 3 && /^reconcile: memberships: 11 of the 25 live rows would be marked ended, more than 10 and more than 5 %: refused$/m.test(r11.out),
      `11 of 25 memberships: refused, exit 3, the numbers named (exit ${r11.code})`) || diag(r11.out);
    eq((await ended()).length, 2, 'none ended');
    const f11 = await run(['reconcile', '--force'], on(p));
    eq([f11.code, (await ended()).length], [0, 13], '--force ends the 11');
    await p.close();
  });

  await test('sync ID...: each object fetched and written as a webhook would', async () => {
    await reset();
    const p = await ownFake();
    const [missing, newer, deleted, gone, ...rest] = p.addUsers(40, { seed: 29 });
    const [org] = p.addOrganizations(1, { seed: 29 });
    for (const u of rest.slice(0, 3)) p.addMembership(org.id, u.id);
    const conf = on(p);
    const cgi = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: conf }, dir });
    // A newer state from a webhook, a user deleted by one, and a user that
    // the table has and Clerk no longer does.
    const w1 = await cgi.send(webhook('user.updated', { ...newer, first_name: 'Newer', updated_at: newer.updated_at + 5000 }, newer.updated_at + 5000));
    const w2 = await cgi.send(webhook('user.deleted', { deleted: true, id: deleted.id, object: 'user' }, deleted.updated_at + 10));
    const w3 = await cgi.send(webhook('user.created', gone, gone.updated_at));
    eq([w1.json.status, w2.json.status, w3.json.status], ['applied', 'applied', 'applied'], 'three webhooks applied first');
    p.deleteUser(gone.id);
    const ids = [missing.id, newer.id, deleted.id, gone.id, org.id];
    const dry = await run(['sync', '--dry-run', ...ids], conf);
    ok(dry.code === 0 && new RegExp(`^${missing.id}: would be inserted$`, 'm').test(dry.out), `--dry-run says what it would do (exit ${dry.code})`);
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM users'))[0].n), 3, '--dry-run writes nothing');
    const r = await run(['sync', ...ids], conf);
    eq(r.code, 0, 'sync exits 0');
    const line = (id) => (new RegExp(`^${id}: (.*)$`, 'm').exec(r.out) || [])[1];
    eq(line(missing.id), 'inserted', 'one line per id: a missing user inserted');
    const got = await usersTable();
    eq(got.get(missing.id), expectedUser(missing), 'the missing user appears, exactly as the API has it');
    ok(/^stale/.test(line(newer.id)), `a user with a newer stored state: stale (${line(newer.id)})`);
    eq(got.get(newer.id), expectedUser({ ...newer, first_name: 'Newer', updated_at: newer.updated_at + 5000 }), 'and not overwritten');
    ok(/^stale/.test(line(deleted.id)), 'a deleted user: stale');
    eq((await db.query('SELECT deleted_at IS NOT NULL AS d, email FROM users WHERE clerk_id = ?', [deleted.id])).map((x) => [Number(x.d), x.email]), [[1, null]],
      'and it stays deleted');
    eq(line(gone.id), 'deleted in Clerk: marked deleted', 'a user Clerk no longer has: marked deleted');
    eq(await deletedIds(), [deleted.id, gone.id].sort(), 'exactly those two are deleted');
    ok(/^updated|^inserted/.test(line(org.id)) && /memberships: 3 read, 3 inserted/.test(line(org.id)), `an organization with its memberships (${line(org.id)})`);
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM organization_memberships WHERE org_clerk_id = ? AND deleted_at IS NULL', [org.id]))[0].n), 3,
      'its 3 memberships written');
    const mark = p.requests.length;
    const bad = await run(['sync', missing.id, 'sess_2abcdefghijklmnopqrstuvwxyz'], conf);
    ok(bad.code === 2 && /sync: 'sess_2abcdefghijklmnopqrstuvwxyz' is not a user_\.\.\. or org_\.\.\. id/.test(bad.err), `an unknown id prefix is refused (exit ${bad.code})`);
    eq(p.requests.length - mark, 0, 'before any request');
    const none = await run(['sync'], conf);
    eq(none.code, 2, 'no id: a usage error');
    // The 404 rules of reconcile hold: only resource_not_found marks.
    const [other] = rest.slice(10, 11);
    p.override(`/v1/users/${other.id}`, 404, '<html>Not Found</html>');
    const odd = await run(['sync', other.id], conf);
    ok(odd.code === 1 && /a 404 that is not Clerk's resource_not_found/.test(odd.out), 'a bare 404: exit 1, nothing marked');
    eq(await deletedIds(), [deleted.id, gone.id].sort(), 'nothing more is deleted');
    await p.close();
  });

  await test('sync marks more than 10 rows deleted only with --force, as reconcile', async () => {
    await reset();
    const p = await ownFake();
    const all = p.addUsers(100, { seed: 30 });
    eq((await run(['backfill'], on(p, { events: 'users' }))).code, 0, 'a backfill of 100 users');
    const gone = all.slice(0, 11);
    for (const u of gone) p.deleteUser(u.id);
    const r = await run(['sync', ...gone.map((u) => u.id)], on(p, { events: 'users' }));
    ok(r.code === 3 && /^sync: users: 11 of the 100 live rows would be marked deleted, more than 10 and more than 5 %: refused$/m.test(r.out),
      `11 of 100: refused, exit 3, the numbers named (exit ${r.code})`);
    eq(await deletedIds(), [], 'nothing marked');
    const f = await run(['sync', '--force', ...gone.map((u) => u.id)], on(p, { events: 'users' }));
    eq(f.code, 0, '--force: exit 0');
    eq(await deletedIds(), gone.map((u) => u.id).sort(), 'the 11 marked deleted');
    await p.close();
  });
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (fc) await fc.close();
  if (db) await db.stop();
}
diag(`backfill suite took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
