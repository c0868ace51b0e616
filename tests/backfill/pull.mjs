// The pull over HTTP (SPEC section 1, "Pull"): a POST of
// {"type":"clerksync.pull","data":{"id":…}} signed with pull_secret, sent
// to the CGI binary, against a local fake of Clerk's Backend API
// (tests/lib/fakeclerk.mjs) and a private MariaDB: what it writes, what it
// refuses (tables checksummed before and after), Clerk's 429 and slow
// answers, the budget shared by concurrent CGI processes, and the PHP
// helper end to end (php-cli -> lighttpd -> clerksync.fcgi -> fake API).
//
// usage: node tests/backfill/pull.mjs      (TAP; CLERKSYNC_BIN as run.mjs)
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { cgiDriver, startLighttpd } from '../lib/drivers.mjs';
import { startFakeClerk } from '../lib/fakeclerk.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { onCleanup, sleep, tmpDir, which } from '../lib/procs.mjs';
import { newSecret, nowSeconds, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';
import { expectedUser, normaliseUser, USER_COLUMNS } from '../integ/expect.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const dir = tmpDir('clerksync-pull-');
onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));

const TABLES = ['users', 'organizations', 'organization_memberships', 'clerk_webhook_events', 'clerksync_api_budget'];
const secret = newSecret();
const pullSecret = newSecret();
let db;
let fc;
let confSeq = 0;

function config(over = {}) {
  const c = {
    signing_secret: secret,
    pull_secret: pullSecret,
    db_socket: db.socket,
    db_user: db.user,
    db_password: db.password,
    db_name: db.database,
    log_file: path.join(dir, 'clerksync.log'),
    clerk_secret_key: fc.secretKey,
    clerk_api_url: fc.url,
    clerk_ca_file: fc.caFile,
    clerk_rate_limit: '1000/10',
    ...over,
  };
  for (const k of Object.keys(c)) if (c[k] === null) delete c[k];
  return writeConfig(path.join(dir, `clerksync-${++confSeq}.conf`), c);
}

const cgi = (conf) => cgiDriver({ bin, env: { CLERKSYNC_CONFIG: conf }, dir });

// A pull of id, as the PHP helper sends it (unbranded headers).
function pull(id, { key = pullSecret, ts, msgId, type = 'clerksync.pull' } = {}) {
  const body = Buffer.from(JSON.stringify({ type, data: { id } }));
  return { headers: signedHeaders(key, body, { prefix: 'webhook', ts, id: msgId }), body };
}

const webhook = (type, data, timestamp) => {
  const body = Buffer.from(JSON.stringify({ data, object: 'event', timestamp, type }));
  return { headers: signedHeaders(secret, body), body };
};

async function reset() {
  for (const t of TABLES) await db.query(`DELETE FROM ${t}`);
}

async function userRow(id) {
  const rows = await db.query(`SELECT ${USER_COLUMNS.join(', ')} FROM users WHERE clerk_id = ?`, [id]);
  return rows.length ? normaliseUser(rows[0]) : null;
}

// The data tables; with budget, the budget's row too (an API request spends it).
async function checksums({ budget = false } = {}) {
  const tables = budget ? TABLES : TABLES.filter((t) => t !== 'clerksync_api_budget');
  const rows = await db.query(`CHECKSUM TABLE ${tables.join(', ')} EXTENDED`);
  return rows.map((r) => `${r.Table}=${r.Checksum}`);
}

const apiCalls = (f, id) => f.requests.filter((r) => r.path === `/v1/users/${id}`).length;

// Seconds until the budget's window (of `seconds`) turns, by the database's clock.
async function windowLeft(seconds) {
  const [r] = await db.query(`SELECT ${seconds} - UNIX_TIMESTAMP() MOD ${seconds} AS s`);
  return Number(r.s);
}

try {
  db = await startTempMariaDB();
  await db.createDatabase({ schemaDir: path.join(src, 'schema') });
  fc = await startFakeClerk({ rateLimit: 100000, rateWindowMs: 1000 });
  diag(`fake Backend API ${fc.url}; mariadb ${db.socket}`);
  const conf = config();
  const [missing, newer, deleted, repeated, org1, ...spare] = fc.addUsers(30, { seed: 41 });

  await test('a pull of a user the table lacks writes it, as the API has it', async () => {
    await reset();
    const r = await cgi(conf).send(pull(missing.id));
    eq([r.status, r.json], [200, { status: 'applied' }], 'answered 200 applied');
    eq(await userRow(missing.id), expectedUser(missing), 'the row appears, exactly as the API has it');
    const ev = await db.query('SELECT event_type, object_id, outcome FROM clerk_webhook_events');
    eq(ev.map((e) => [e.event_type, e.object_id, e.outcome]), [['clerksync.pull', missing.id, 'applied']],
      'an events row of type clerksync.pull (not a delivery for status)');
    eq(apiCalls(fc, missing.id), 1, 'one GET /v1/users/{id}');
  });

  await test('a repeated webhook-id is a duplicate, and asks Clerk nothing', async () => {
    await reset();
    const req = pull(repeated.id);
    const r1 = await cgi(conf).send(req);
    const before = apiCalls(fc, repeated.id);
    const r2 = await cgi(conf).send(req);
    eq([r1.json, r2.json], [{ status: 'applied' }, { status: 'duplicate' }], 'applied, then duplicate');
    eq(apiCalls(fc, repeated.id), before, 'no second request to the API');
  });

  await test('a newer webhook state is not overwritten; a deleted user stays deleted', async () => {
    await reset();
    const c = cgi(conf);
    const w1 = await c.send(webhook('user.updated', { ...newer, first_name: 'Newer', updated_at: newer.updated_at + 5000 }, newer.updated_at + 5000));
    const w2 = await c.send(webhook('user.deleted', { deleted: true, id: deleted.id, object: 'user' }, deleted.updated_at + 10));
    eq([w1.json, w2.json], [{ status: 'applied' }, { status: 'applied' }], 'two webhooks applied first');
    const r1 = await c.send(pull(newer.id));
    eq([r1.status, r1.json], [200, { status: 'stale' }], 'the pull of a user with a newer stored state: 200 stale');
    eq(await userRow(newer.id), expectedUser({ ...newer, first_name: 'Newer', updated_at: newer.updated_at + 5000 }), 'and the row keeps the newer state');
    const r2 = await c.send(pull(deleted.id));
    eq([r2.status, r2.json], [200, { status: 'stale' }], 'the pull of a deleted user: 200 stale');
    const d = await db.query('SELECT deleted_at IS NOT NULL AS d, email FROM users WHERE clerk_id = ?', [deleted.id]);
    eq(d.map((x) => [Number(x.d), x.email]), [[1, null]], 'and it stays deleted, its data cleared');
  });

  await test('an id Clerk does not have: 404 not_found, nothing written or marked', async () => {
    await reset();
    const ghost = 'user_2GhostNeverExisted0000000';
    const sum = await checksums();
    const r = await cgi(conf).send(pull(ghost));
    eq([r.status, r.json && r.json.error], [404, 'not_found'], 'answered 404 not_found');
    eq(apiCalls(fc, ghost), 1, 'after asking Clerk once');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM users WHERE clerk_id = ?', [ghost]))[0].n), 0, 'no tombstone is written');
    eq(await checksums(), sum, 'no data table changed');
    // A live row that Clerk says is gone is not marked by a pull either.
    await cgi(conf).send(webhook('user.created', spare[0], spare[0].updated_at));
    fc.deleteUser(spare[0].id);
    const r2 = await cgi(conf).send(pull(spare[0].id));
    eq([r2.status, (await db.query('SELECT deleted_at FROM users WHERE clerk_id = ?', [spare[0].id]))[0].deleted_at], [404, null],
      'a live row of a user Clerk no longer has: 404, and the row stays live (deletes come from webhooks, sync or reconcile)');
  });

  await test('an id that is not a user_ or org_ id: 400 invalid_payload, no request', async () => {
    await reset();
    const mark = fc.requests.length;
    const sum = await checksums({ budget: true });
    for (const id of ["user_'; DROP TABLE users", 'sess_2abc', '', 'user_']) {
      const r = await cgi(conf).send(pull(id));
      eq([r.status, r.json && r.json.error], [400, 'invalid_payload'], `data.id ${JSON.stringify(id)}: 400 invalid_payload`);
    }
    const body = Buffer.from('{"type":"clerksync.pull","data":{"id":5}}');
    const r = await cgi(conf).send({ headers: signedHeaders(pullSecret, body, { prefix: 'webhook' }), body });
    eq([r.status, r.json && r.json.error], [400, 'invalid_payload'], 'a data.id that is not a string: 400');
    eq(fc.requests.length - mark, 0, 'no request to the API');
    eq(await checksums({ budget: true }), sum, 'no table changed');
  });

  await test('an organization is pulled with its memberships', async () => {
    await reset();
    const [org] = fc.addOrganizations(1, { seed: 41 });
    for (const u of spare.slice(1, 4)) fc.addMembership(org.id, u.id);
    const r = await cgi(conf).send(pull(org.id));
    eq([r.status, r.json], [200, { status: 'applied' }], 'answered 200 applied');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM organizations WHERE clerk_id = ?', [org.id]))[0].n), 1, 'the organization row');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM organization_memberships WHERE org_clerk_id = ? AND deleted_at IS NULL', [org.id]))[0].n), 3,
      'its 3 memberships');
  });

  await test('Clerk\'s 429, a 5xx and a slow answer: 503 with Retry-After, in time', async () => {
    await reset();
    const sum = await checksums();
    fc.failNext(1, 429);
    const r1 = await cgi(conf).send(pull(spare[5].id));
    eq([r1.status, r1.json && r1.json.error, r1.headers['retry-after']], [503, 'unavailable', '1'],
      '429: 503 unavailable with Clerk\'s Retry-After (1)');
    eq(apiCalls(fc, spare[5].id), 1, 'one request: a 429 is not waited out');
    fc.failNext(1, 500);
    const r2 = await cgi(conf).send(pull(spare[6].id));
    ok(r2.status === 503 && Number(r2.headers['retry-after']) >= 1, `500: 503 with a Retry-After (${r2.status}, ${r2.headers['retry-after']})`);
    eq(apiCalls(fc, spare[6].id), 1, 'one request: a 5xx is not retried');
    fc.slowNext(1, 30000);
    const t0 = Date.now();
    const r3 = await cgi(conf).send(pull(spare[7].id));
    const took = (Date.now() - t0) / 1000;
    ok(r3.status === 503 && Number(r3.headers['retry-after']) >= 1, `an answer that takes 30 s: 503 with a Retry-After (${r3.status}, ${r3.headers['retry-after']})`);
    ok(took < 10, `answered within the 10 s a web server allows (${took.toFixed(1)} s)`);
    const rec = fc.requests.filter((q) => q.path === `/v1/users/${spare[7].id}`);
    ok(rec.length === 1 && rec[0].aborted === true, 'clerksync gave up on the slow request itself');
    eq(await checksums(), sum, 'none of the three wrote anything');
    const r4 = await cgi(conf).send(pull(spare[5].id));
    eq(r4.json, { status: 'applied' }, 'a new pull (new webhook-id) afterwards: applied');
  });

  await test('the budget holds across 8 concurrent CGI pulls', async () => {
    await reset();
    const WINDOW = 3600;
    // A fixed window of the database's clock: start well inside one.
    const left = await windowLeft(WINDOW);
    if (left < 30) await sleep((left + 1) * 1000);
    const bconf = config({ clerk_rate_limit: `3/${WINDOW}` });
    const ids = spare.slice(10, 18).map((u) => u.id);
    const mark = fc.requests.length;
    const rs = await Promise.all(ids.map((id) => cgi(bconf).send(pull(id))));
    const seen = fc.requests.slice(mark).filter((q) => q.path.startsWith('/v1/users/'));
    eq(seen.length, 3, 'the fake saw exactly 3 requests (clerk_rate_limit 3 per window)');
    eq(rs.filter((r) => r.status === 200 && r.json.status === 'applied').length, 3, '3 pulls applied');
    const refused = rs.filter((r) => r.status === 503);
    ok(refused.length === 5 && refused.every((r) => r.json.error === 'unavailable' && Number(r.headers['retry-after']) >= 1),
      `the other 5: 503 unavailable with a Retry-After (${refused.map((r) => r.headers['retry-after']).join(' ')})`);
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM users'))[0].n), 3, 'and they wrote nothing');
    const again = await cgi(bconf).send(pull(spare[20].id));
    eq([again.status, fc.requests.length - mark], [503, 3], 'the budget is still spent: no request sent');
  });

  await test('refused pulls write nothing and ask Clerk nothing', async () => {
    await reset();
    await cgi(conf).send(webhook('user.created', spare[21], spare[21].updated_at));
    const sum = await checksums({ budget: true });
    const mark = fc.requests.length;
    const id = spare[22].id;
    const cases = [
      ['signed with the Svix signing secret', pull(id, { key: secret }), conf, 401, 'invalid_signature'],
      ['signed with another secret', pull(id, { key: newSecret() }), conf, 401, 'invalid_signature'],
      ['signed with the Svix secret and another', pull(id, { key: [secret, newSecret()] }), conf, 401, 'invalid_signature'],
      ['an old timestamp', pull(id, { ts: nowSeconds() - 3600 }), conf, 401, 'timestamp_out_of_tolerance'],
      ['no pull_secret configured', pull(id), config({ pull_secret: null }), 401, 'invalid_signature'],
      ['a webhook body signed with pull_secret', (() => {
        const body = Buffer.from(JSON.stringify({ data: { ...spare[21], first_name: 'Forged', updated_at: spare[21].updated_at + 1000 }, object: 'event', type: 'user.updated' }));
        return { headers: signedHeaders(pullSecret, body), body };
      })(), conf, 401, 'invalid_signature'],
      ['a pull_secret that is the signing_secret', pull(id, { key: secret }), config({ pull_secret: secret }), 503, 'unavailable'],
    ];
    for (const [what, req, c, status, code] of cases) {
      const r = await cgi(c).send(req);
      eq([r.status, r.json && r.json.error], [status, code], `${what}: ${status} ${code}`);
    }
    eq(fc.requests.length - mark, 0, 'no request reached the API');
    eq(await checksums({ budget: true }), sum, 'no table changed, the budget included (checksums before and after)');
    const log = fs.readFileSync(path.join(dir, 'clerksync.log'), 'utf8');
    ok(!log.includes(pullSecret.slice(6)) && !log.includes(fc.secretKey), 'no secret in the log');
  });

  await test('check names pull_secret when it is set, never its value', async () => {
    const check = (c) => spawnSync(bin, ['check'], { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: c }, encoding: 'utf8' });
    const on = check(conf);
    ok(on.status === 0 && /^pull_secret: 1 secret, each decodes$/m.test(on.stdout), `pull_secret: 1 secret, each decodes (exit ${on.status})`);
    const nokey = check(config({ clerk_secret_key: null }));
    ok(/^pull_secret: 1 secret, each decodes; clerk_secret_key is not set, so every pull is answered 503$/m.test(nokey.stdout),
      'without clerk_secret_key: says that every pull is answered 503');
    const off = check(config({ pull_secret: null }));
    ok(off.status === 0 && !/pull_secret/.test(off.stdout), 'unset: no pull_secret line');
    ok(![on, nokey, off].some((r) => (r.stdout + r.stderr).includes(pullSecret.slice(6))), 'no secret printed');
    const r = await cgi(config({ clerk_secret_key: null })).send(pull(spare[23].id));
    eq([r.status, r.json && r.json.error], [503, 'unavailable'], 'and a pull without clerk_secret_key: 503 unavailable');
  });

  await test('PHP: clerksync_current_user pulls a user who just signed up, through lighttpd', async () => {
    const phpBin = which('php');
    if (!ok(!!phpBin, 'php-cli installed')) return;
    await reset();
    const lconf = config({ log_file: path.join(dir, 'lighttpd-clerksync.log') });
    const srv = await startLighttpd({ dir: path.join(dir, 'lighttpd'), bin, config: lconf, maxProcs: 1, urlPath: '/clerk/clerksync.fcgi' });
    try {
      const key = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const origin = 'https://app.example.com';
      const b64url = (b) => Buffer.from(b).toString('base64url');
      const t = Math.floor(Date.now() / 1000);
      const token = (sub) => {
        const input = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'ins_test' }))}.${b64url(JSON.stringify({
          azp: origin, exp: t + 60, iat: t - 5, iss: 'https://clerk.example.com', nbf: t - 10, sid: 'sess_2abc', sub, v: 2,
        }))}`;
        return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), key.privateKey))}`;
      };
      const req = {
        lib: path.join(src, 'examples', 'php', 'clerksync.php'),
        call: 'current_user',
        cookie: token(org1.id),
        db: { dsn: `mysql:unix_socket=${db.socket};dbname=${db.database};charset=utf8mb4`, user: db.user, password: db.password },
        cfg: {
          jwt_key: key.publicKey.export({ type: 'spki', format: 'pem' }), authorized_parties: [origin],
          pull_url: srv.url, pull_secret: pullSecret, pull_timeout: 10,
        },
      };
      eq(await userRow(org1.id), null, 'the user is not in the table yet');
      const php = (r) => new Promise((resolve) => {
        const child = spawn(phpBin, [path.join(src, 'tests', 'php', 'driver.php')], { env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] });
        let o = '';
        child.stdout.on('data', (c) => (o += c));
        child.on('close', () => {
          try {
            resolve(JSON.parse(o));
          } catch {
            resolve({ unparsable: o });
          }
        });
        child.stdin.end(JSON.stringify(r));
      });
      const out = await php(req);
      if (!out.result) diag(JSON.stringify(out));
      eq([out.result && out.result.clerk_id, out.error, out.warnings], [org1.id, null, []], 'the row is returned, no warning');
      eq(out.result && out.result.email, expectedUser(org1).email, 'with the email Clerk has');
      eq(await userRow(org1.id), expectedUser(org1), 'the row was written by clerksync, as the API has it');
      const ev = await db.query('SELECT event_type, outcome FROM clerk_webhook_events WHERE object_id = ?', [org1.id]);
      eq(ev.map((e) => [e.event_type, e.outcome]), [['clerksync.pull', 'applied']], 'through a real pull');
      const ghost = 'user_2GhostOfPhp0000000000000';
      const none = await php({ ...req, cookie: token(ghost) });
      eq([none.result, none.error, none.warnings], [null, 'pull: HTTP 404', []], 'a user Clerk does not have: null, pull: HTTP 404');
      eq(await userRow(ghost), null, 'and no row for it');
    } finally {
      await srv.close();
    }
  });
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (fc) await fc.close();
  if (db) await db.stop();
}
process.exitCode = done() ? 1 : 0;
