// examples/php/clerksync.php under php-cli, against a private MariaDB:
// session tokens made here with throwaway keys (valid, expired, not yet
// valid, wrong azp, wrong key, alg none, HS256 keyed by the public key,
// malformed), the cookie and the Bearer header, deleted users,
// table_prefix, and the pull, whose signature the real svix package
// verifies. Then each check of the PHP file is broken in a copy, one at a
// time, and the test that covers it must see the difference.
//
// usage: node tests/php/run.mjs      (TAP)
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'svix';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { freePort, onCleanup, startServer, terminate, tmpDir, which } from '../lib/procs.mjs';
import { newSecret } from '../lib/sign.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const LIB = path.join(src, 'examples', 'php', 'clerksync.php');
const DRIVER = path.join(here, 'driver.php');
const dir = tmpDir('clerksync-php-');
onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));

const phpBin = which('php');
if (!ok(!!phpBin, 'php-cli installed (packages php-cli php-mysql php-curl)')) process.exit(done() ? 1 : 0);
const exts = execFileSync(phpBin, ['-r', 'echo implode(" ", array_map("strtolower", get_loaded_extensions()));']).toString().split(' ');
const missingExt = ['openssl', 'pdo_mysql', 'curl'].filter((e) => !exts.includes(e));
ok(missingExt.length === 0, `php extensions openssl, pdo_mysql and curl loaded${missingExt.length ? ` (missing: ${missingExt.join(', ')})` : ''}`);

// ------------------------------------------------------------- tokens

const rsa = () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY = rsa();
const OTHER = rsa();
const EC = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const PEM = KEY.publicKey.export({ type: 'spki', format: 'pem' });
const EC_PEM = EC.publicKey.export({ type: 'spki', format: 'pem' });
const b64url = (b) => Buffer.from(b).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const ORIGIN = 'https://app.example.com';

function claims(over = {}) {
  const t = now();
  return { azp: ORIGIN, exp: t + 60, iat: t - 5, iss: 'https://clerk.example.com', nbf: t - 10, sid: 'sess_2abc', sub: LIVE, v: 2, ...over };
}

// A JWT: header + claims signed as alg says (RS256 by key, HS256 by an
// HMAC secret, ES256-in-DER by an EC key under any alg name, none: empty).
function jwt(c = claims(), { alg = 'RS256', key = KEY.privateKey, hmac, ec, header = {} } = {}) {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', kid: 'ins_test', ...header }))}.${b64url(JSON.stringify(c))}`;
  let sig = '';
  if (hmac) sig = b64url(crypto.createHmac('sha256', hmac).update(input).digest());
  else if (ec) sig = b64url(crypto.sign('sha256', Buffer.from(input), ec));
  else if (alg !== 'none') sig = b64url(crypto.sign('sha256', Buffer.from(input), key));
  return `${input}.${sig}`;
}

// ------------------------------------------------------------- the PHP side

function php(req, lib = LIB) {
  return new Promise((resolve) => {
    const child = spawn(phpBin, [DRIVER], { env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => {
      let r;
      try {
        r = JSON.parse(out);
      } catch {
        r = { unparsable: out, stderr: err, code };
      }
      resolve(r);
    });
    child.stdin.end(JSON.stringify({ lib, ...req }));
  });
}

let db;
let dbConf;
let srv;
const LIVE = 'user_2LiveAbc123';
const GONE = 'user_2GoneAbc123';
const PREFIXED = 'user_2PrefixAbc1';
const NEW = 'user_2NewSignUp01';
const cfg = (over = {}) => ({ jwt_key: PEM, authorized_parties: [ORIGIN], ...over });
const asUser = (r) => (r && r.result && typeof r.result === 'object' ? r.result.clerk_id : r && r.result);

// One call; returns what it gave as [clerk_id or null, why, warnings].
async function current(req, over = {}, lib = LIB) {
  const r = await php({ call: 'current_user', db: dbConf, cfg: cfg(over), ...req }, lib);
  if (r.exception || r.unparsable !== undefined) diag(JSON.stringify(r));
  return [asUser(r) ?? null, r.error ?? null, r.warnings ?? ['(no answer)']];
}

const cookie = (token) => ({ cookie: token });

// The negative cases, each with the reason it must give; run again below
// against copies of the PHP file with one check broken.
const NEGATIVE = {
  expired: () => [cookie(jwt(claims({ exp: now() - 60, iat: now() - 120, nbf: now() - 130 })))],
  not_yet_valid: () => [cookie(jwt(claims({ nbf: now() + 120 })))],
  issued_in_future: () => [cookie(jwt(claims({ iat: now() + 120 })))],
  azp: () => [cookie(jwt(claims({ azp: 'https://evil.example.com' })))],
  azp_missing: () => [cookie(jwt(claims({ azp: undefined })))],
  signature: () => [cookie(jwt(claims(), { key: OTHER.privateKey }))],
  alg_none: () => [cookie(jwt(claims(), { alg: 'none' }))],
  alg_hs256: () => [cookie(jwt(claims(), { alg: 'HS256', hmac: PEM }))],
  key_type: () => [cookie(jwt(claims(), { ec: EC.privateKey })), { jwt_key: EC_PEM }],
  pending: () => [cookie(jwt(claims({ sts: 'pending' })))],
  deleted: () => [cookie(jwt(claims({ sub: GONE })))],
};
const REASON = { azp_missing: 'azp', alg_none: 'alg', alg_hs256: 'alg' };

try {
  db = await startTempMariaDB();
  await db.createDatabase({ schemaDir: path.join(src, 'schema') });
  dbConf = { dsn: `mysql:unix_socket=${db.socket};dbname=${db.database};charset=utf8mb4`, user: db.user, password: db.password };
  await db.query("INSERT INTO users (clerk_id, email, first_name, clerk_updated_at) VALUES (?, 'live@example.com', 'Zoë', 1), (?, NULL, NULL, 1)", [LIVE, GONE]);
  await db.query('UPDATE users SET deleted_at = UTC_TIMESTAMP(3) WHERE clerk_id = ?', [GONE]);
  await db.query('CREATE TABLE cs_users LIKE users');
  await db.query("INSERT INTO cs_users (clerk_id, email, clerk_updated_at) VALUES (?, 'prefixed@example.com', 1)", [PREFIXED]);
  diag(`mariadb ${db.socket}; php ${phpBin}`);

  await test('a valid token gives the live row', async () => {
    const r = await php({ call: 'current_user', db: dbConf, cfg: cfg(), cookie: jwt() });
    eq([r.result && r.result.clerk_id, r.result && r.result.email, r.result && r.result.first_name, r.result && r.result.deleted_at],
      [LIVE, 'live@example.com', 'Zoë', null], 'cookie __session: the users row of sub, every column');
    eq([r.error, r.warnings], [null, []], 'no error, no warning');
    eq(await current({ authorization: `Bearer ${jwt()}` }), [LIVE, null, []], 'Authorization: Bearer works too');
    eq(await current({ authorization: `bearer  ${jwt()}` }), [LIVE, null, []], 'the scheme is case-insensitive');
    eq(await current({ authorization: `Bearer ${jwt()}`, cookie: 'garbage' }), [LIVE, null, []],
      'the header wins over the cookie (a cross-origin request)');
    eq(await current({}), [null, 'no_token', []], 'neither: null, no_token');
    eq(await current({ cookie: '' }), [null, 'no_token', []], 'an empty cookie: no_token');
    eq(await current({ authorization: 'Basic dXNlcjpwYXNz' }), [null, 'no_token', []], 'a Basic header is not a token');
    eq(await current(cookie(jwt()), { authorized_parties: [] }), [LIVE, null, []], 'no authorized_parties: azp is not checked');
    eq(await current(cookie(jwt(claims({ azp: undefined }))), { authorized_parties: [] }), [LIVE, null, []],
      'no authorized_parties: a token without azp passes');
    eq(await current(cookie(jwt(claims({ azp: 'https://b.example.com' }))), { authorized_parties: [ORIGIN, 'https://b.example.com'] }),
      [LIVE, null, []], 'azp among several authorized parties');
    eq(await current(cookie(jwt(claims({ exp: now() - 20 }))), { leeway: 60 }), [LIVE, null, []],
      'expired 20 s ago with leeway 60: still valid');
    eq(await current(cookie(jwt(claims({ sts: 'pending' }))), { accept_pending: true }), [LIVE, null, []],
      'a pending session with accept_pending');
    eq(await current(cookie(jwt(claims({ sts: 'active' })))), [LIVE, null, []], 'sts active');
    eq(await current(cookie(jwt(claims({ nbf: undefined, iat: undefined })))), [LIVE, null, []], 'nbf and iat are optional');
  });

  await test('behind a web server (php -S): the cookie and the header as a browser sends them', async () => {
    const port = await freePort();
    const pem = path.join(dir, 'jwt.pem');
    fs.writeFileSync(pem, PEM);
    const server = await startServer(phpBin, ['-d', 'display_errors=1', '-d', 'error_reporting=-1', '-S', `127.0.0.1:${port}`, path.join(here, 'app.php')], {
      port,
      what: 'php -S',
      env: { PATH: process.env.PATH, CLERKSYNC_PHP_LIB: LIB, TEST_DSN: dbConf.dsn, TEST_USER: dbConf.user, TEST_PASSWORD: dbConf.password, TEST_PEM: pem, TEST_ORIGIN: ORIGIN },
    });
    try {
      const get = async (headers) => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { headers });
        const text = await res.text();
        try {
          return JSON.parse(text);
        } catch {
          return { unparsable: text };
        }
      };
      eq(await get({ cookie: `theme=dark; __session=${jwt()}; __client_uat=1700000000` }), { user: LIVE, error: null },
        'Cookie: __session=… among other cookies');
      eq(await get({ authorization: `Bearer ${jwt()}` }), { user: LIVE, error: null }, 'Authorization: Bearer …');
      eq(await get({}), { user: null, error: 'no_token' }, 'neither: no_token');
      eq(await get({ cookie: `__session=${jwt(claims({ exp: now() - 60 }))}` }), { user: null, error: 'expired' }, 'an expired cookie: expired');
      eq(await get({ cookie: '__session[]=x' }), { user: null, error: 'no_token' }, 'a cookie PHP reads as an array: no_token, no warning');
      eq(await get({ cookie: `__session=${'x'.repeat(7000)}` }), { user: null, error: 'malformed' }, 'a long junk cookie: malformed, no warning');
    } finally {
      await terminate(server.child, { timeout: 5000 });
    }
  });

  await test('tokens that must not be trusted', async () => {
    for (const [name, mk] of Object.entries(NEGATIVE)) {
      const [req, over] = mk();
      eq(await current(req, over), [null, REASON[name] || name, []], `${name}: null, reason ${REASON[name] || name}, no warning`);
    }
    const tampered = jwt().split('.');
    tampered[1] = b64url(JSON.stringify(claims({ sub: GONE.replace('Gone', 'Evil') })));
    eq(await current(cookie(tampered.join('.'))), [null, 'signature', []], 'claims changed after signing: signature');
    eq(await current(cookie(jwt(claims({ exp: now() - 3600 }), { key: OTHER.privateKey }))), [null, 'signature', []],
      'the signature is checked before the claims');
    eq(await current(cookie(jwt(claims(), { alg: 'RS512' }))), [null, 'alg', []], 'RS512: alg');
    eq(await current(cookie(jwt(claims(), { alg: 'rs256' }))), [null, 'alg', []], 'alg is compared exactly');
    eq(await current(cookie(jwt(claims(), { header: { crit: ['b64'] } }))), [null, 'alg', []], 'a crit header is refused');
    eq(await current(cookie(jwt(claims({ sub: 'user_2x' + "'; DROP TABLE users; --" })))), [null, 'claims', []],
      'a sub that is not an id: claims');
    eq(await current(cookie(jwt(claims({ exp: '9999999999' })))), [null, 'claims', []], 'exp as a string: claims');
    eq(await current(cookie(jwt(claims({ exp: undefined })))), [null, 'claims', []], 'no exp: claims');
    eq(await current(cookie(jwt(claims({ exp: 99999999999999999999999 })))), [LIVE, null, []], 'a huge exp is a number');
    eq(await current(cookie(jwt(claims({ sub: 'user_2UnknownAbc' })))), [null, 'no_user', []], 'a user clerksync has no row for: no_user');
  });

  await test('malformed tokens: null, no warning, no notice', async () => {
    const good = jwt();
    const [h, p, s] = good.split('.');
    const bad = {
      'two segments': `${h}.${p}`,
      'four segments': `${good}.${s}`,
      'base64 with +/': `${h}.${p}.${s.replace(/-|_/g, '+') || '+'}+/`,
      'base64 with padding': `${h}.${p}==.${s}`,
      'length 1 mod 4': `${h}.${p}A.${s}`,
      'header not JSON': `${b64url('{"alg":"RS256"')}.${p}.${s}`,
      'header a JSON array': `${b64url('["RS256"]')}.${p}.${s}`,
      'header a JSON string': `${b64url('"RS256"')}.${p}.${s}`,
      'claims not JSON': `${h}.${b64url('\xff\xfe')}.${s}`,
      'claims nested 100 deep': `${h}.${b64url('{"a":'.repeat(100) + '1' + '}'.repeat(100))}.${s}`,
      'dots only': '..',
      'NUL bytes': `${h}\u0000.${p}.${s}`,
      'unicode': `${h}.${p}.${s}é`,
    };
    for (const [what, tok] of Object.entries(bad)) {
      eq(await current(cookie(tok)), [null, 'malformed', []], `${what}: malformed`);
    }
    eq(await current(cookie(`${h}.${p}.`)), [null, 'signature', []], 'an empty signature under RS256: signature');
    eq(await current(cookie(`${h}.${'A'.repeat(200000)}.${s}`)), [null, 'too_large', []], '200 kB: too_large before any parsing');
    const arr = await php({ call: 'current_user', db: dbConf, cfg: cfg(), cookie: null, authorization: ['x'] });
    eq([arr.result, arr.warnings], [null, []], 'a header that is not a string: null');
  });

  await test('configuration errors are loud', async () => {
    const r = await php({ call: 'current_user', db: dbConf, cfg: { authorized_parties: [ORIGIN] } });
    ok(/InvalidArgumentException: .*jwt_key/.test(r.exception || ''), 'no jwt_key: InvalidArgumentException naming jwt_key, even when signed out');
    const r2 = await php({ call: 'current_user', db: dbConf, cfg: cfg({ jwt_key: PEM.replace(/[A-Z]{4}/, 'AAAA') }), cookie: jwt() });
    ok(/InvalidArgumentException/.test(r2.exception || '') && r2.warnings.length === 0, 'a broken PEM: InvalidArgumentException, no warning');
    const r3 = await php({ call: 'current_user', db: dbConf, cfg: cfg({ table_prefix: 'x`; --' }), cookie: jwt() });
    ok(/InvalidArgumentException: .*table_prefix/.test(r3.exception || ''), 'a bad table_prefix: InvalidArgumentException');
  });

  await test('table_prefix', async () => {
    eq(await current(cookie(jwt(claims({ sub: PREFIXED }))), { table_prefix: 'cs_' }), [PREFIXED, null, []], 'cs_users is read with table_prefix cs_');
    eq(await current(cookie(jwt(claims({ sub: PREFIXED })))), [null, 'no_user', []], 'and not without it');
    eq(await current(cookie(jwt()), { table_prefix: 'cs_' }), [null, 'no_user', []], 'users is not read with the prefix');
  });

  // ----------------------------------------------------------- the pull

  const pullSecret = newSecret();
  const seen = [];
  let mode = 'apply';
  srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        new Webhook(pullSecret).verify(body, req.headers);
        verified = true;
      } catch {}
      seen.push({ method: req.method, url: req.url, headers: req.headers, body, verified });
      const send = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (!verified) return send(401, { error: 'invalid_signature', message: 'no signature matches' });
      if (mode === '503') return send(503, { error: 'unavailable', message: 'rate limited' });
      if (mode === 'slow') return setTimeout(() => send(200, { status: 'applied' }), 4000);
      if (mode === 'redirect') {
        res.writeHead(302, { location: '/elsewhere' });
        return res.end();
      }
      let id;
      try {
        id = JSON.parse(body).data.id;
      } catch {}
      if (mode === 'apply' && id) {
        await db.query("INSERT INTO users (clerk_id, email, clerk_updated_at) VALUES (?, 'pulled@example.com', 2) ON DUPLICATE KEY UPDATE email = email", [id]);
      }
      send(200, { status: mode === 'apply' ? 'applied' : 'stale' });
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const pullUrl = `http://127.0.0.1:${srv.address().port}/clerk/clerksync.fcgi`;
  const pcfg = (over = {}) => cfg({ pull_url: pullUrl, pull_secret: pullSecret, pull_timeout: 2, ...over });
  const ensure = async (id, over = {}) => {
    const r = await php({ call: 'ensure_user', db: dbConf, cfg: pcfg(over), id });
    if (r.exception || r.unparsable !== undefined) diag(JSON.stringify(r));
    return [asUser(r) ?? null, r.error ?? null, r.warnings ?? ['(no answer)']];
  };

  await test('the pull is signed as Svix signs a webhook (checked by the svix package)', async () => {
    const r = await php({ call: 'sign', cfg: { pull_secret: pullSecret }, id: NEW });
    const [headers, body] = r.result || [{}, ''];
    eq(body, `{"type":"clerksync.pull","data":{"id":"${NEW}"}}`, 'body: {"type":"clerksync.pull","data":{"id":…}}');
    ok(/^msg_pull_[0-9a-f]{24}$/.test(headers['webhook-id'] || ''), 'webhook-id: a fresh message id');
    ok(Math.abs(Number(headers['webhook-timestamp']) - now()) <= 5, 'webhook-timestamp: now');
    let good = false;
    try {
      new Webhook(pullSecret).verify(body, headers);
      good = true;
    } catch (e) {
      diag(e.message);
    }
    ok(good, 'svix Webhook.verify accepts the PHP-made webhook-* headers');
    let bad = true;
    try {
      new Webhook(newSecret()).verify(body, headers);
    } catch {
      bad = false;
    }
    ok(!bad, 'and refuses them under another secret');
    const fixed = await php({ call: 'sign', cfg: { pull_secret: pullSecret }, id: NEW, now: 1614265330 });
    const h2 = fixed.result[0];
    eq(h2['webhook-signature'], new Webhook(pullSecret).sign(h2['webhook-id'], new Date(1614265330 * 1000), fixed.result[1]),
      'the same bytes as svix Webhook.sign for the same id, time and body');
    const r2 = await php({ call: 'sign', cfg: { pull_secret: 'whsec_not base64!' }, id: NEW });
    ok(/InvalidArgumentException: .*pull_secret/.test(r2.exception || ''), 'a pull_secret that is not base64: InvalidArgumentException');
  });

  await test('ensure_user: a missing user is pulled, then read', async () => {
    seen.length = 0;
    mode = 'apply';
    eq(await ensure(LIVE), [LIVE, null, []], 'a live user: its row, no pull');
    eq(seen.length, 0, 'nothing was sent');
    eq(await ensure(GONE), [null, 'deleted', []], 'a deleted user: null, and not pulled (deletes are final)');
    eq(seen.length, 0, 'nothing was sent');
    eq(await ensure(NEW), [NEW, null, []], 'a user clerksync has no row for: pulled, then its row');
    eq(seen.length, 1, 'one request');
    const s = seen[0] || { headers: {} };
    eq([s.method, s.url, s.headers['content-type'], s.verified, s.body],
      ['POST', '/clerk/clerksync.fcgi', 'application/json', true, `{"type":"clerksync.pull","data":{"id":"${NEW}"}}`],
      'a POST of the pull body to pull_url, its signature verified by the svix package');
    eq(await ensure("user_'; DROP"), [null, 'no_user', []], 'an id that is not a user id is not pulled');
    eq(seen.length, 1, 'nothing more was sent');
  });

  await test('ensure_user: a pull that fails gives null', async () => {
    await db.query('DELETE FROM users WHERE clerk_id = ?', [NEW]);
    mode = '503';
    eq(await ensure(NEW), [null, 'pull: HTTP 503', []], '503 (Clerk rate-limited): null, pull: HTTP 503');
    mode = 'stale';
    eq(await ensure(NEW), [null, 'no_user', []], 'answered 200 but no row (unknown to Clerk): no_user');
    mode = 'apply';
    eq(await ensure(NEW, { pull_secret: newSecret() }), [null, 'pull: HTTP 401', []], 'signed with another secret: refused (401)');
    mode = 'redirect';
    eq(await ensure(NEW), [null, 'pull: HTTP 302', []], 'a redirect is not followed');
    mode = 'slow';
    const [id, why, w] = await ensure(NEW, { pull_timeout: 1 });
    ok(id === null && /^pull: curl: .*timed out/i.test(why || '') && w.length === 0, `an endpoint slower than pull_timeout: null (${why})`);
    const [id2, why2, w2] = await ensure(NEW, { pull_url: 'http://127.0.0.1:1/' });
    ok(id2 === null && /^pull: curl: /.test(why2 || '') && w2.length === 0, `nothing listening: null (${why2})`);
    const r = await php({ call: 'ensure_user', db: dbConf, cfg: cfg({ pull_url: 'ftp://x/' , pull_secret: pullSecret }), id: NEW });
    ok(/InvalidArgumentException: .*pull_url/.test(r.exception || ''), 'a pull_url that is not http(s): InvalidArgumentException');
  });

  await test('ensure_user without the curl extension (PHP streams)', async () => {
    await db.query('DELETE FROM users WHERE clerk_id = ?', [NEW]);
    seen.length = 0;
    mode = 'apply';
    eq(await ensure(NEW, { pull_transport: 'stream' }), [NEW, null, []], 'pulled, then its row');
    eq(seen.map((s) => s.verified), [true], 'one request, its signature verified');
    await db.query('DELETE FROM users WHERE clerk_id = ?', [NEW]);
    mode = '503';
    eq(await ensure(NEW, { pull_transport: 'stream' }), [null, 'pull: HTTP 503', []], '503: null');
    mode = 'redirect';
    eq(await ensure(NEW, { pull_transport: 'stream' }), [null, 'pull: HTTP 302', []], 'a redirect is not followed');
    mode = 'slow';
    eq(await ensure(NEW, { pull_transport: 'stream', pull_timeout: 1 }), [null, 'pull: no answer', []], 'too slow: null');
  });

  await test('current_user with pull_url: the user who has just signed up', async () => {
    await db.query('DELETE FROM users WHERE clerk_id = ?', [NEW]);
    seen.length = 0;
    mode = 'apply';
    eq(await current(cookie(jwt(claims({ sub: NEW }))), { pull_url: pullUrl, pull_secret: pullSecret }), [NEW, null, []],
      'a valid token of a user with no row yet: pulled, then the row');
    eq(await current(cookie(jwt(claims({ sub: NEW }))), { pull_url: pullUrl, pull_secret: pullSecret }), [NEW, null, []],
      'the next request reads it');
    eq(seen.length, 1, 'one pull in all');
    eq(await current(cookie(jwt(claims({ sub: GONE }))), { pull_url: pullUrl, pull_secret: pullSecret }), [null, 'deleted', []],
      'a deleted user is not pulled back');
    eq(await current(cookie(jwt(claims({ sub: NEW }), { key: OTHER.privateKey })), { pull_url: pullUrl, pull_secret: pullSecret }),
      [null, 'signature', []], 'a bad token never causes a pull');
    eq(seen.length, 1, 'still one pull');
  });

  // ------------------------------------------------ each check can fail

  await test('each check, broken in a copy, lets its negative test through', async () => {
    const text = fs.readFileSync(LIB, 'utf8');
    const MUTANTS = [
      ['expired', "if ($claims['exp'] <= $now - $leeway) {", 'if (false) {'],
      ['not_yet_valid', "if (isset($claims['nbf']) && $claims['nbf'] > $now + $leeway) {", 'if (false) {'],
      ['issued_in_future', "if (isset($claims['iat']) && $claims['iat'] > $now + $leeway) {", 'if (false) {'],
      ['azp', "if ($parties !== [] && !in_array($claims['azp'] ?? null, $parties, true)) {", 'if (false) {'],
      ['azp_missing', "if ($parties !== [] && !in_array($claims['azp'] ?? null, $parties, true)) {",
        "if ($parties !== [] && isset($claims['azp']) && !in_array($claims['azp'], $parties, true)) {"],
      ['signature', 'if ($ok !== 1) {', 'if (false) {'],
      ['alg_none', "if (($header['alg'] ?? null) !== 'RS256' || isset($header['crit'])) {", 'if (false) {'],
      ['alg_hs256', "if (($header['alg'] ?? null) !== 'RS256' || isset($header['crit'])) {", 'if (false) {'],
      ['key_type', "if ($details === false || $details['type'] !== OPENSSL_KEYTYPE_RSA) {", 'if (false) {'],
      ['pending', "if (($claims['sts'] ?? 'active') !== 'active' && empty($cfg['accept_pending'])) {", 'if (false) {'],
      ['deleted', "return $row['deleted_at'] === null ? $row : clerksync_fail('deleted');", 'return $row;'],
    ];
    for (const [name, from, to] of MUTANTS) {
      const n = text.split(from).length - 1;
      if (!ok(n === 1, `${name}: the check is in clerksync.php once (${n})`)) continue;
      const lib = path.join(dir, `mutant-${name}.php`);
      fs.writeFileSync(lib, text.replace(from, to));
      const [req, over] = NEGATIVE[name]();
      const got = await current(req, over, lib);
      const want = [null, REASON[name] || name, []];
      ok(JSON.stringify(got) !== JSON.stringify(want), `${name}: with the check broken the test sees ${JSON.stringify(got.slice(0, 2))}`);
    }
  });
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (srv) {
    srv.closeAllConnections();
    srv.close();
  }
  if (db) await db.stop();
}
process.exitCode = done() ? 1 : 0;
