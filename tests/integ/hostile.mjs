// Hostile input: every request here is wrong on purpose (or odd but valid),
// and each gets its expected answer plus proof that the database did not
// change (row counts and CHECKSUM TABLE of users and clerk_webhook_events,
// before and after), or, where it must be written, the exact bytes stored.
// Drivers: CGI, FastCGI (spawn-fcgi + cgi-fcgi) and lighttpd; raw sockets
// for lies that an HTTP client will not tell.
//
// usage: node tests/integ/hostile.mjs      (TAP; CLERKSYNC_BIN, CLERKSYNC_KEEP_TMP as run.mjs)
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Context, locate } from './context.mjs';
import { newMsgId, newSecret, nowSeconds, signature, signedHeaders } from '../lib/sign.mjs';
import { sleep, which } from '../lib/procs.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';
import { fcgiSocketDriver } from '../sim/fcgi-client.mjs';
import { cgiDriver, fcgiDriver } from '../lib/drivers.mjs';

const started = Date.now();
const loc = locate();
const MARK = `HOSTILEMARK${crypto.randomBytes(4).toString('hex')}`;
const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|double free|stack smashing|Segmentation fault/;

const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'lighttpd', 'cgi-fcgi', 'spawn-fcgi'].filter((t) => !which(t));
if (!ok(missing.length === 0, `tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`) ||
    !ok(fs.existsSync(loc.bin), `binary built: ${loc.bin}`)) {
  process.exit(done() ? 1 : 0);
}
diag(`binary ${loc.bin}`);

const ctx = new Context(loc);
let seq = 0;
const uid = () => `user_hostile${String(++seq).padStart(4, '0')}${crypto.randomBytes(3).toString('hex')}`;

// ---------------------------------------------------------------- bodies

const base = () => JSON.parse(ctx.fixture('user.created.json').toString('utf8'));

// A user.created event for a fresh id with data changed; returns Buffer.
function event(changes = {}, envelope = {}) {
  const ev = base();
  ev.data.id = uid();
  ev.data.unsafe_metadata = { marker: MARK };
  Object.assign(ev.data, changes);
  Object.assign(ev, envelope);
  return Buffer.from(JSON.stringify(ev));
}

// Like event(), but placeholders in the JSON text are replaced by raw bytes,
// for what JSON.stringify cannot write (bad UTF-8, big numbers, odd keys).
function rawEvent(changes, raws, envelope = {}) {
  let text = event(changes, envelope);
  for (const [ph, bytes] of Object.entries(raws)) {
    // "@X" stands for the JSON string "@X"; a needle starting with a quote
    // is literal JSON text.
    const needle = ph.startsWith('"') ? ph : JSON.stringify(ph);
    const at = text.indexOf(needle);
    if (at < 0) throw new Error(`placeholder ${ph} not found`);
    text = Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at + Buffer.byteLength(needle))]);
  }
  return text;
}

const idOf = (body) => {
  const m = /"id":"(user_[A-Za-z0-9_-]+)"/.exec(Buffer.from(body).toString('latin1'));
  return m && m[1];
};
const signed = (body, opts = {}) => ({ headers: signedHeaders(ctx.secret, body, opts), body });

// ---------------------------------------------------------------- database

async function snapshot() {
  const sums = await ctx.db.query('CHECKSUM TABLE users, clerk_webhook_events, organizations, organization_memberships EXTENDED');
  const tables = await ctx.db.query('SHOW TABLES');
  const counts = await ctx.counts();
  return { ...counts, checksums: sums.map((r) => `${r.Table.split('.').pop()}=${r.Checksum}`), tables: tables.length };
}

async function hexOf(clerkId, col) {
  const rows = await ctx.db.query(`SELECT HEX(${col}) AS h FROM users WHERE clerk_id = ?`, [clerkId]);
  return rows.length ? rows[0].h : undefined;
}
const hex = (s) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

// The stored bytes as text (JSON columns too: no driver-side parsing).
async function rawColumn(clerkId, col) {
  const rows = await ctx.db.query(`SELECT HEX(${col}) AS h, ${col} IS NULL AS n FROM users WHERE clerk_id = ?`, [clerkId]);
  if (!rows.length) return undefined;
  return Number(rows[0].n) ? null : Buffer.from(rows[0].h, 'hex').toString('utf8');
}

// ---------------------------------------------------------------- checks

function answerOk(res, want, tag) {
  if (want.any4xx5xx) {
    const good = ok(res && res.status >= 400 && res.status < 600, `${tag}: refused (${res && res.status})`);
    if (!good && res) diag(`got ${res.status} ${String(res.raw).slice(0, 200)}`);
    return good;
  }
  return ctx.expectAnswer(res, want, `${tag}: ${want.status} ${want.error || want.body}`);
}

// The request must be answered as expected and change nothing.
async function refused(driver, name, req, want) {
  const tag = `${name} [${driver.name}]`;
  await test(tag, async () => {
    const before = await snapshot();
    const res = await driver.send(typeof req === 'function' ? req() : req);
    answerOk(res, want, tag);
    if (want.allow) eq(res.headers.allow, 'POST', `${tag}: Allow: POST`);
    eq(await snapshot(), before, `${tag}: database unchanged`);
  });
}

// The request must be applied, adding exactly one users row and one event.
async function applied(driver, name, req, check) {
  const tag = `${name} [${driver.name}]`;
  await test(tag, async () => {
    const r = typeof req === 'function' ? req() : req;
    const before = await ctx.counts();
    const res = await driver.send(r);
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: 200 applied`);
    eq(await ctx.counts(), { users: before.users + 1, events: before.events + 1 }, `${tag}: one row and one event written`);
    if (check) await check(idOf(r.body), tag, r);
  });
}

// ---------------------------------------------------------------- raw HTTP

function rawHttp(port, bytes, { halfClose = true, timeout = 4000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect({ host: '127.0.0.1', port });
    let timer = null;
    const finish = (why) => {
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      const bodies = [...text.matchAll(/\r\n\r\n(\{[^\r\n]*\})/g)].map((m) => m[1]);
      resolve({ statuses, bodies, text, why });
    };
    s.on('connect', () => {
      s.write(bytes);
      if (halfClose) s.end();
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => finish('error'));
    s.on('close', () => finish('close'));
    timer = setTimeout(() => finish('timeout'), timeout);
  });
}

function httpHead(port, headers, extra = '') {
  const lines = [`POST /clerksync HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(lines.join('\r\n') + '\r\n' + extra + '\r\n');
}

// ================================================================ cases

async function specRows(drivers) {
  const valid = () => event();
  const without = (h) => () => {
    const r = signed(valid());
    delete r.headers[h];
    return r;
  };
  const emptied = (h) => () => {
    const r = signed(valid());
    r.headers[h] = '';
    return r;
  };
  for (const d of drivers) {
    const http = d.name === 'lighttpd';
    await refused(d, 'GET', { method: 'GET', headers: {}, contentLength: null }, { status: 405, error: 'method_not_allowed', allow: true });
    await refused(d, 'PUT, signed', () => ({ ...signed(valid()), method: 'PUT' }), { status: 405, error: 'method_not_allowed', allow: true });
    await refused(d, 'DELETE, signed', () => ({ ...signed(valid()), method: 'DELETE' }), { status: 405, error: 'method_not_allowed', allow: true });
    if (!http) {
      await refused(d, 'method "post" in lower case', () => ({ ...signed(valid()), method: 'post' }), { status: 405, error: 'method_not_allowed', allow: true });
      await refused(d, 'no CONTENT_LENGTH', () => ({ ...signed(valid()), contentLength: null }), { status: 411, error: 'length_required' });
      await refused(d, 'empty CONTENT_LENGTH', () => ({ ...signed(valid()), contentLength: '' }), { status: 411, error: 'length_required' });
      for (const cl of ['abc', '-1', '+10', ' 10', '10 ', '0x10', '1e3', '10.0', '١٠']) {
        await refused(d, `CONTENT_LENGTH ${JSON.stringify(cl)}`, () => ({ ...signed(valid()), contentLength: cl }), { status: 400, error: 'bad_request' });
      }
      await refused(d, 'CONTENT_LENGTH 50 MiB, no body', () => ({ ...signed(valid()), contentLength: 50 * 1048576 }), { status: 413, error: 'payload_too_large' });
      // A decimal number, larger than max_body: SPEC 1 says 413 (decided
      // before reading), README says a non-decimal is 400.
      await refused(d, 'CONTENT_LENGTH of 23 digits (a decimal beyond 2^62)', () => ({ ...signed(valid()), contentLength: '99999999999999999999999' }), { status: 413, error: 'payload_too_large' });
    }
    await refused(d, 'body of max_body + 1 bytes, signed', () => signed(Buffer.concat([valid(), Buffer.alloc(1048577 - valid().length, ' ')])), { status: 413, error: 'payload_too_large' });
    for (const h of ['svix-id', 'svix-timestamp', 'svix-signature']) {
      await refused(d, `missing ${h}`, without(h), { status: 400, error: 'missing_headers' });
      await refused(d, `empty ${h}`, emptied(h), { status: 400, error: 'missing_headers' });
    }
    // Ahead by 310, not 301: the receiver reads its clock a moment after we
    // sign (seconds later under valgrind), and the window is inclusive.
    for (const [name, off] of [['301 s old', -301], ['310 s ahead', 310], ['a day old', -86400]]) {
      await refused(d, `timestamp ${name}`, () => signed(valid(), { ts: nowSeconds() + off }), { status: 401, error: 'timestamp_out_of_tolerance' });
    }
    const stamps = [['"abc"', () => 'abc'], ['"-"', () => '-'], ['"+"', () => '+'], ['of 26 digits', () => '9'.repeat(26)],
      ['in milliseconds', () => String(nowSeconds() * 1000)], ['"0x6000000"', () => '0x6000000'], ['negative now', () => '-' + nowSeconds()]];
    for (const [label, ts] of stamps) {
      await refused(d, `timestamp header ${label}`, () => {
        const r = signed(valid());
        r.headers['svix-timestamp'] = ts();
        return r;
      }, { status: 401, error: 'timestamp_out_of_tolerance' });
    }
    await refused(d, 'signed with another secret', () => ({ headers: signedHeaders(newSecret(), valid()), body: valid() }), { status: 401, error: 'invalid_signature' });
    await refused(d, 'signed, then the body changed by one byte', () => {
      const r = signed(valid());
      r.body = Buffer.from(r.body);
      r.body[r.body.indexOf(MARK)] ^= 0x20;
      return r;
    }, { status: 401, error: 'invalid_signature' });
    await refused(d, 'signed, not UTF-8', () => signed(rawEvent({ first_name: '@FN' }, { '@FN': Buffer.from([0x22, 0x5a, 0x6f, 0xeb, 0x22]) })), { status: 400, error: 'invalid_payload' });
    await refused(d, 'signed, not a JSON object', () => signed(Buffer.from('[1,2,3]')), { status: 400, error: 'invalid_payload' });
    await refused(d, 'signed, no type', () => signed(Buffer.from(`{"data":{"id":"${uid()}"},"timestamp":1773480413644}`)), { status: 400, error: 'invalid_payload' });
    await refused(d, 'signed, no data', () => signed(Buffer.from('{"type":"user.created","timestamp":1773480413644}')), { status: 400, error: 'invalid_payload' });
    await refused(d, 'signed, a type clerksync does not handle', () => signed(event({}, { type: 'user.teleported' })), { status: 200, body: 'ignored' });
  }
}

async function unavailable(fcgi) {
  const body = event();
  await test('database unreachable', async () => {
    const cgi = ctx.cgiDriver({ conf: ctx.config({ db_socket: path.join(ctx.dir, 'no-such.sock') }) });
    await refused(cgi, 'database unreachable (db_socket missing)', () => signed(body), { status: 503, error: 'unavailable' });
    await refused(cgi, 'database unreachable, forged signature: 401 (no database work before the verdict)', () => ({ headers: signedHeaders(newSecret(), body), body }), { status: 401, error: 'invalid_signature' });
    const tcp = ctx.cgiDriver({ conf: ctx.config({ db_socket: null, db_host: '127.0.0.1', db_port: 1 }) });
    await refused(tcp, 'database unreachable (port 1)', () => signed(body), { status: 503, error: 'unavailable' });
  });
  await test('bad configuration', async () => {
    const bad = ctx.cgiDriver({ conf: ctx.config({ no_such_key: 'x' }) });
    await refused(bad, 'bad configuration (unknown key), signed event', () => signed(body), { status: 503, error: 'unavailable' });
    await refused(bad, 'bad configuration (unknown key), GET', { method: 'GET', headers: {}, contentLength: null }, { status: 503, error: 'unavailable' });
    const nosecret = ctx.cgiDriver({ conf: ctx.config({ signing_secret: null }) });
    await refused(nosecret, 'bad configuration (no signing_secret)', () => signed(body), { status: 503, error: 'unavailable' });
  });
  await test('lock wait beyond innodb_lock_wait_timeout', async () => {
    const target = event();
    const first = await fcgi.send(signed(target));
    ctx.expectAnswer(first, { status: 200, body: 'applied' }, 'lock wait: the row exists');
    const next = JSON.parse(target);
    next.data.updated_at += 1000;
    next.type = 'user.updated';
    const upd = Buffer.from(JSON.stringify(next));
    const conn = await ctx.db.rootConnection(ctx.db.database);
    try {
      await conn.beginTransaction();
      await conn.query('SELECT id FROM users WHERE clerk_id = ? FOR UPDATE', [next.data.id]);
      const before = await snapshot();
      const t = Date.now();
      const res = await fcgi.send(signed(upd));
      ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `lock wait [fcgi]: 503 unavailable after ${Date.now() - t} ms`);
      ok(Date.now() - t < 15000, 'lock wait [fcgi]: answered inside Svix\'s 15 s');
      eq(await snapshot(), before, 'lock wait [fcgi]: database unchanged (the events row rolled back)');
    } finally {
      await conn.rollback().catch(() => {});
      conn.destroy();
    }
    const again = await fcgi.send(signed(upd));
    ctx.expectAnswer(again, { status: 200, body: 'applied' }, 'lock wait [fcgi]: the retry applies');
  });
  await test('anything else: 500 internal', async () => {
    await ctx.db.query("CREATE TRIGGER hostile_boom BEFORE INSERT ON users FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'");
    try {
      await refused(fcgi, 'a database error that is not ours to retry (trigger SIGNAL)', () => signed(event()), { status: 500, error: 'internal' });
    } finally {
      await ctx.db.query('DROP TRIGGER IF EXISTS hostile_boom');
    }
    await applied(fcgi, 'the next event after a 500', () => signed(event()));
  });
}

async function signatures(drivers) {
  const valid = () => event();
  const mac = (r) => r.headers['svix-signature'].slice(3);
  const edit = (fn) => () => {
    const r = signed(valid());
    fn(r);
    return r;
  };
  const forged = {
    'random v1 MAC': (r) => (r.headers['svix-signature'] = 'v1,' + crypto.randomBytes(32).toString('base64')),
    'only a v2 entry with the right MAC': (r) => (r.headers['svix-signature'] = 'v2,' + mac(r)),
    'V1 in upper case': (r) => (r.headers['svix-signature'] = 'V1,' + mac(r)),
    'v1 with no MAC': (r) => (r.headers['svix-signature'] = 'v1,'),
    'v1 without a comma': (r) => (r.headers['svix-signature'] = 'v1' + mac(r)),
    'MAC cut to 43 characters': (r) => (r.headers['svix-signature'] = 'v1,' + mac(r).slice(0, 43)),
    'MAC with a 45th character': (r) => (r.headers['svix-signature'] = 'v1,' + mac(r) + 'A'),
    'MAC without its = padding': (r) => (r.headers['svix-signature'] = 'v1,' + mac(r).replace(/=+$/, '')),
    'MAC in base64url': (r) => {
      const m = mac(r);
      r.headers['svix-signature'] = 'v1,' + (/[+/]/.test(m) ? m.replace(/\+/g, '-').replace(/\//g, '_') : m.slice(0, 42) + '-=');
    },
    'MAC with one letter case flipped': (r) => {
      const m = mac(r);
      const i = m.search(/[A-Za-z]/);
      r.headers['svix-signature'] = 'v1,' + m.slice(0, i) + (m[i] === m[i].toLowerCase() ? m[i].toUpperCase() : m[i].toLowerCase()) + m.slice(i + 1);
    },
    'MAC as hex': (r) => (r.headers['svix-signature'] = 'v1,' + Buffer.from(mac(r), 'base64').toString('hex')),
    'MAC behind a tab, not a space': (r) => (r.headers['svix-signature'] = 'v1,AAAA\tv1,' + mac(r)),
    'v1 , with a space before the comma': (r) => (r.headers['svix-signature'] = 'v1 ,' + mac(r)),
    'MAC of another svix-id': (r) => (r.headers['svix-id'] = newMsgId()),
    'svix-timestamp moved by one second (same MAC)': (r) => (r.headers['svix-timestamp'] = String(Number(r.headers['svix-timestamp']) - 1)),
    'the empty secret\'s MAC': (r) => (r.headers['svix-signature'] = 'v1,' + crypto.createHmac('sha256', Buffer.alloc(0)).update(`${r.headers['svix-id']}.${r.headers['svix-timestamp']}.`).update(r.body).digest('base64')),
    'MAC of the body with a newline added': (r) => (r.headers['svix-signature'] = signature(ctx.secret, r.headers['svix-id'], r.headers['svix-timestamp'], Buffer.concat([r.body, Buffer.from('\n')]))),
    'webhook-* MAC under svix-* names for another id': (r) => {
      r.headers['webhook-id'] = r.headers['svix-id'];
      r.headers['svix-id'] = newMsgId();
    },
  };
  for (const d of drivers) {
    for (const [name, fn] of Object.entries(forged)) await refused(d, `forged: ${name}`, edit(fn), { status: 401, error: 'invalid_signature' });
  }

  // README: the timestamp header is read like parseInt and the canonical
  // decimal is what is signed, so these carry the same MAC and pass.
  for (const d of drivers) {
    for (const [n, f] of [['a leading zero', (t) => '0' + t], ['trailing junk', (t) => t + 'abc'], ['a leading space', (t) => ' ' + t]]) {
      if (d.name === 'lighttpd' && n === 'a leading space') continue;
      await applied(d, `svix-timestamp with ${n}, same MAC (README: parseInt)`, edit((r) => (r.headers['svix-timestamp'] = f(r.headers['svix-timestamp']))));
    }
  }

  // Replays.
  const d = drivers.find((x) => x.name === 'fcgi');
  await test('replays', async () => {
    const r = signed(valid());
    const first = await d.send(r);
    ctx.expectAnswer(first, { status: 200, body: 'applied' }, 'replay: original applied');
    await refused(d, 'replay: the same request again', r, { status: 200, body: 'duplicate' });
    const changed = Buffer.from(r.body.toString('utf8').replace('Zoë', 'Eve'));
    await refused(d, 'replay: the signature with a changed body', { headers: r.headers, body: changed }, { status: 401, error: 'invalid_signature' });
    await refused(d, 'replay: the signature under a new svix-id', { headers: { ...r.headers, 'svix-id': newMsgId() }, body: r.body }, { status: 401, error: 'invalid_signature' });
    await refused(d, 'replay: the signature with svix-timestamp set to now', { headers: { ...r.headers, 'svix-timestamp': String(nowSeconds() + 2) }, body: r.body }, { status: 401, error: 'invalid_signature' });
    await refused(d, 'replay: the signature with the body cut short', { headers: r.headers, body: r.body.subarray(0, r.body.length - 1) }, { status: 401, error: 'invalid_signature' });
  });
  await test('replay outside the tolerance window', async () => {
    const cgi = ctx.cgiDriver({ conf: ctx.config({ timestamp_tolerance: 1 }) });
    const ts = nowSeconds();
    const r = signed(valid(), { ts });
    const first = await cgi.send(r);
    ctx.expectAnswer(first, { status: 200, body: 'applied' }, 'tolerance 1 s: fresh request applied');
    const other = signed(valid(), { ts });
    while (nowSeconds() < ts + 2) await sleep(100);
    await refused(cgi, 'tolerance 1 s: the applied request replayed 2 s later', r, { status: 401, error: 'timestamp_out_of_tolerance' });
    await refused(cgi, 'tolerance 1 s: a valid request never seen, delivered 2 s late', other, { status: 401, error: 'timestamp_out_of_tolerance' });
  });
}

async function headerSizes(cgi, fcgi, lt) {
  const entry = (r) => r.headers['svix-signature'];
  const junk = (n) => Array.from({ length: n }, () => 'v1,x').join(' ');
  for (const d of [cgi, fcgi]) {
    await refused(d, '1,000 entries, the valid one last (beyond the 32 examined)', () => {
      const r = signed(event());
      r.headers['svix-signature'] = `${junk(999)} ${entry(r)}`;
      return r;
    }, { status: 401, error: 'invalid_signature' });
    await applied(d, '1,000 entries, the valid one first', () => {
      const r = signed(event());
      r.headers['svix-signature'] = `${entry(r)} ${junk(999)}`;
      return r;
    });
    await applied(d, 'the valid entry 32nd', () => {
      const r = signed(event());
      r.headers['svix-signature'] = `${junk(31)} ${entry(r)}`;
      return r;
    });
    await refused(d, 'the valid entry 33rd', () => {
      const r = signed(event());
      r.headers['svix-signature'] = `${junk(32)} ${entry(r)}`;
      return r;
    }, { status: 401, error: 'invalid_signature' });
    await refused(d, '1,000 full-size v1 entries (47 KB header)', () => {
      const r = signed(event());
      r.headers['svix-signature'] = Array.from({ length: 999 }, () => 'v1,' + crypto.randomBytes(32).toString('base64')).join(' ') + ' ' + entry(r);
      return r;
    }, { status: 400, error: 'bad_request' });
    await applied(d, 'svix-signature of exactly 8,192 bytes, valid entry first', () => {
      const r = signed(event());
      const e = entry(r);
      r.headers['svix-signature'] = e + ' ' + 'x'.repeat(8192 - e.length - 1);
      return r;
    });
    await refused(d, 'svix-signature of 8,193 bytes, valid entry first', () => {
      const r = signed(event());
      const e = entry(r);
      r.headers['svix-signature'] = e + ' ' + 'x'.repeat(8193 - e.length - 1);
      return r;
    }, { status: 400, error: 'bad_request' });
    await refused(d, 'svix-timestamp of 8,193 bytes', () => {
      const r = signed(event());
      r.headers['svix-timestamp'] = r.headers['svix-timestamp'] + ' '.repeat(8193 - r.headers['svix-timestamp'].length);
      return r;
    }, { status: 400, error: 'bad_request' });
    await refused(d, 'svix-id of 8,193 bytes, signed', () => signed(event(), { id: 'msg_' + 'a'.repeat(8189) }), { status: 400, error: 'bad_request' });
    await refused(d, 'svix-id of 100 KiB, signed', () => signed(event(), { id: 'msg_' + 'b'.repeat(102400 - 4) }), { status: 400, error: 'bad_request' });
    await refused(d, 'svix-id of 129 characters, signed', () => signed(event(), { id: 'msg_' + 'c'.repeat(125) }), { status: 400, error: 'invalid_payload' });
    await applied(d, 'svix-id of 128 characters, signed', () => signed(event(), { id: 'msg_' + crypto.randomBytes(93).toString('base64').slice(0, 124) }));
    await refused(d, 'svix-id with a space, signed', () => signed(event(), { id: 'msg_a b' }), { status: 400, error: 'invalid_payload' });
    await refused(d, 'svix-id with UTF-8, signed', () => signed(event(), { id: 'msg_ü' }), { status: 400, error: 'invalid_payload' });
    await refused(d, 'svix-id with a control byte, signed', () => signed(event(), { id: 'msg_\x01' }), { status: 400, error: 'invalid_payload' });
  }
  // Through lighttpd the server may refuse big headers itself (431).
  await refused(lt, '1,000 full-size v1 entries (47 KB header)', () => {
    const r = signed(event());
    r.headers['svix-signature'] = Array.from({ length: 1000 }, () => 'v1,' + crypto.randomBytes(32).toString('base64')).join(' ');
    return r;
  }, { any4xx5xx: true });
  await refused(lt, 'svix-id of 100 KiB, signed', () => signed(event(), { id: 'msg_' + 'b'.repeat(102400 - 4) }), { any4xx5xx: true });
  await refused(lt, 'svix-signature of 8,193 bytes, valid entry first', () => {
    const r = signed(event());
    const e = entry(r);
    r.headers['svix-signature'] = e + ' ' + 'x'.repeat(8193 - e.length - 1);
    return r;
  }, { any4xx5xx: true });
}

async function bodies(drivers) {
  const bad = (name, body) => ({ name, body });
  const nonUtf8 = [
    ['a lone continuation byte', [0x80]],
    ['C3 28', [0xc3, 0x28]],
    ['overlong C0 AF', [0xc0, 0xaf]],
    ['overlong E0 80 AF', [0xe0, 0x80, 0xaf]],
    ['a UTF-16 surrogate ED A0 80', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80]],
    ['F5', [0xf5, 0x80, 0x80, 0x80]],
    ['FF', [0xff]],
    ['Latin-1 ë', [0xeb]],
  ];
  const cases = [];
  for (const [n, bytes] of nonUtf8) {
    cases.push(bad(`not UTF-8 in a name: ${n}`, rawEvent({ first_name: '@FN' }, { '@FN': Buffer.concat([Buffer.from('"Zo'), Buffer.from(bytes), Buffer.from('"')]) })));
  }
  cases.push(bad('not UTF-8 in a member name', rawEvent({ first_name: '@FN' }, { '"first_name":"@FN"': Buffer.concat([Buffer.from('"first_name":"x","k'), Buffer.from([0xff]), Buffer.from('":1')]) })));
  cases.push(bad('not UTF-8 between tokens', Buffer.concat([event(), Buffer.from([0xa0])])));
  cases.push(bad('UTF-8 cut short at the end', Buffer.concat([event(), Buffer.from([0xe2, 0x82])])));
  cases.push(bad('a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), event()])));
  // SPEC §1: what an end user can put in an event refuses nothing; only a
  // body that is not JSON, or whose keyed fields cannot be read, is refused.
  // (degraded: applied, a fresh user each time, that column NULL or left
  // out of clerk_data.)
  const degraded = [];
  const lessOf = (n, changes, raws, col) => ({ name: n, make: () => rawEvent({ banned: true, ...changes }, raws), col });
  degraded.push(lessOf('JSON nested 100,000 deep in unsafe_metadata (arrays)', { unsafe_metadata: '@DEEP' }, { '@DEEP': '['.repeat(100000) + ']'.repeat(100000) }, 'unsafe_metadata'));
  degraded.push(lessOf('JSON nested 100,000 deep in unsafe_metadata (objects)', { unsafe_metadata: '@DEEP' }, { '@DEEP': '{"a":'.repeat(100000) + '1' + '}'.repeat(100000) }, 'unsafe_metadata'));
  degraded.push(lessOf('JSON nested 65 deep', { unsafe_metadata: '@DEEP' }, { '@DEEP': '['.repeat(63) + ']'.repeat(63) }, 'unsafe_metadata'));
  degraded.push(lessOf('a lone surrogate escape in a name', { first_name: '@FN' }, { '@FN': '"\\ud83d"' }, 'first_name'));
  cases.push(bad('JSON nested 100,000 deep, unclosed', Buffer.from('{"type":"user.created","data":' + '['.repeat(100000))));
  cases.push(bad('JSON nested 100,000 deep in unsafe_metadata, one ] short', rawEvent({ unsafe_metadata: '@DEEP' }, { '@DEEP': '['.repeat(100000) + ']'.repeat(99999) })));
  cases.push(bad('JSON nested 100,000 deep in unsafe_metadata, closed by }', rawEvent({ unsafe_metadata: '@DEEP' }, { '@DEEP': '['.repeat(100000) + ']'.repeat(99999) + '}' })));
  cases.push(bad('JSON nested 100,000 deep before data.id', Buffer.from('{"type":"user.created","data":{"x":' + '['.repeat(100000) + ']'.repeat(100000) + '}}')));
  cases.push(bad('a lone surrogate in data.id', rawEvent({ id: '@ID' }, { '@ID': '"user_\\ud800"' })));
  cases.push(bad('trailing garbage after the object', Buffer.concat([event(), Buffer.from(' x')])));
  cases.push(bad('two objects', Buffer.concat([event(), event()])));
  cases.push(bad('a trailing comma', rawEvent({ first_name: '@FN' }, { '@FN': '"x",' })));
  cases.push(bad('single quotes', rawEvent({ first_name: '@FN' }, { '@FN': "'x'" })));
  cases.push(bad('NaN', rawEvent({ last_sign_in_at: '@N' }, { '@N': 'NaN' })));
  cases.push(bad('a leading + on a number', rawEvent({ last_sign_in_at: '@N' }, { '@N': '+1' })));
  cases.push(bad('a comment', rawEvent({ first_name: '@FN' }, { '@FN': '/*x*/"x"' })));
  cases.push(bad('a raw control byte in a string', rawEvent({ first_name: '@FN' }, { '@FN': '"a\x01b"' })));
  cases.push(bad('the empty body', Buffer.alloc(0)));
  cases.push(bad('null', Buffer.from('null')));
  cases.push(bad('data is an array', event({}, { data: [] })));
  cases.push(bad('type is a number', event({}, { type: 5 })));
  cases.push(bad('type is empty', event({}, { type: '' })));

  // Fields of the wrong JSON type, and values too long for their column:
  // the keyed ones refuse the event, the others are stored as NULL.
  const wrong = {
    'data.id a number': { id: 5 },
    'data.id null': { id: null },
    'data.id empty': { id: '' },
    'data.id with a space': { id: 'user_a b' },
    'data.id of 65 characters': { id: 'user_' + 'x'.repeat(60) },
    'data.id with a quote': { id: "user_x'--" },
    'banned the string "true"': { banned: 'true' },
    'locked 1': { locked: 1 },
    'updated_at a string': { updated_at: '1773480413626' },
    'updated_at null': { updated_at: null },
    'updated_at absent': { updated_at: undefined },
    'updated_at negative': { updated_at: -1 },
    'updated_at a fraction': { updated_at: 1773480413626.5 },
  };
  const lesser = {
    'first_name a number': [{ first_name: 123 }, 'first_name'],
    'first_name true': [{ first_name: true }, 'first_name'],
    'first_name an object': [{ first_name: { a: 1 } }, 'first_name'],
    'last_name an array': [{ last_name: ['x'] }, 'last_name'],
    'username a number': [{ username: 1 }, 'username'],
    'external_id a number': [{ external_id: 42 }, 'external_id'],
    'image_url an object': [{ image_url: {} }, 'image_url'],
    'created_at a string': [{ created_at: 'yesterday' }, 'clerk_created_at'],
    'last_sign_in_at true': [{ last_sign_in_at: true }, 'last_sign_in_at'],
    'email_addresses an object': [{ email_addresses: { a: 1 } }, 'email'],
    'email_addresses holding a string': [{ email_addresses: ['zoe@example.org'] }, 'email'],
    'primary_email_address_id a number': [{ primary_email_address_id: 7 }, 'email'],
    'the primary email_address a number': [{ email_addresses: [{ id: 'idn_3AvkNgFeE1wyPvW4DNnnOdtdnWo', email_address: 5 }] }, 'email'],
    'phone_numbers a string': [{ phone_numbers: '+447700900123', primary_phone_number_id: 'idn_x' }, 'phone'],
    'first_name of 257 characters': [{ first_name: 'é'.repeat(257) }, 'first_name'],
    'last_name of 257 4-byte characters': [{ last_name: '😀'.repeat(257) }, 'last_name'],
    'username of 256 characters': [{ username: 'u'.repeat(256) }, 'username'],
    'external_id of 256 characters': [{ external_id: 'e'.repeat(256) }, 'external_id'],
    'the primary email of 321 characters': [{ email_addresses: [{ id: 'idn_3AvkNgFeE1wyPvW4DNnnOdtdnWo', email_address: 'a'.repeat(309) + '@example.org' }] }, 'email'],
    'the primary phone of 65 characters': [{ phone_numbers: [{ id: 'idn_p', phone_number: '+' + '1'.repeat(64) }], primary_phone_number_id: 'idn_p' }, 'phone'],
    'image_url of 65,536 bytes': [{ image_url: 'https://x/' + 'i'.repeat(65526) }, 'image_url'],
  };
  for (const [n, ch] of Object.entries(wrong)) {
    const ev = base();
    ev.data.id = uid();
    Object.assign(ev.data, ch);
    if (ch.updated_at === undefined && 'updated_at' in ch) delete ev.data.updated_at;
    cases.push(bad(`wrong type or too long: ${n}`, Buffer.from(JSON.stringify(ev))));
  }
  for (const [n, [ch, col]] of Object.entries(lesser)) degraded.push({ name: `wrong type or too long: ${n}`, make: () => event({ banned: true, ...ch }), col });
  const big = {
    'updated_at 2^53+1': ['updated_at', '9007199254740993'],
    'updated_at 2^53': ['updated_at', '9007199254740992'],
    'updated_at 1e400': ['updated_at', '1e400'],
    'updated_at of 100 digits': ['updated_at', '1' + '0'.repeat(99)],
  };
  for (const [n, [k, v]] of Object.entries(big)) cases.push(bad(`beyond 2^53: ${n}`, rawEvent({ [k]: '@BIG' }, { '@BIG': v })));
  degraded.push(lessOf('beyond 2^53: created_at 2^53+1', { created_at: '@BIG' }, { '@BIG': '9007199254740993' }, 'clerk_created_at'));
  degraded.push(lessOf('beyond 2^53: last_sign_in_at 2^64', { last_sign_in_at: '@BIG' }, { '@BIG': '18446744073709551616' }, 'last_sign_in_at'));
  cases.push(bad('beyond 2^53: envelope timestamp 2^53+1', rawEvent({}, { '@TS': '9007199254740993' }, { timestamp: '@TS' })));
  cases.push(bad('envelope timestamp after 9999', event({}, { timestamp: 253402300800000 })));

  for (const d of drivers) {
    for (const c of degraded) {
      await applied(d, `signed, ${c.name}`, () => signed(c.make()), async (id, tag) => {
        const [row] = await ctx.db.query('SELECT banned FROM users WHERE clerk_id = ?', [id]);
        eq(row && Number(row.banned), 1, `${tag}: banned applied by the same event`);
        if (c.col === 'unsafe_metadata') {
          const cd = await rawColumn(id, 'clerk_data');
          ok(typeof cd === 'string' && !cd.includes('unsafe_metadata') && cd.includes(`"id":"${id}"`), `${tag}: clerk_data without unsafe_metadata (${String(cd).slice(0, 40)})`);
        } else {
          eq(await rawColumn(id, c.col), null, `${tag}: ${c.col} NULL`);
        }
      });
    }
    for (const c of cases) {
      await refused(d, `signed, ${c.name}`, () => signed(c.body), { status: 400, error: 'invalid_payload' });
    }
  }
}

async function stored(fcgi, lt) {
  for (const d of [fcgi, lt]) {
    const fourByte = '🚀𝔘𐍈🀄 Zoë';
    await applied(d, '4-byte UTF-8 in names, stored exactly', () => signed(event({ first_name: fourByte, last_name: '👩‍👩‍👧‍👦', username: '𝓾𝓼𝓮𝓻' })), async (id, tag) => {
      eq(await hexOf(id, 'first_name'), hex(fourByte), `${tag}: HEX(first_name)`);
      eq(await hexOf(id, 'last_name'), hex('👩‍👩‍👧‍👦'), `${tag}: HEX(last_name)`);
      eq(await hexOf(id, 'username'), hex('𝓾𝓼𝓮𝓻'), `${tag}: HEX(username)`);
    });
    await applied(d, '4-byte UTF-8 written as \\u escapes, stored as UTF-8', () => signed(rawEvent({ first_name: '@FN' }, { '@FN': '"\\ud83d\\ude80\\uD835\\uDD18"' })), async (id, tag) => {
      eq(await hexOf(id, 'first_name'), hex('🚀𝔘'), `${tag}: HEX(first_name)`);
    });
    await applied(d, 'names of exactly 256 4-byte characters', () => signed(event({ first_name: '😀'.repeat(256), last_name: 'é'.repeat(256) })), async (id, tag) => {
      eq(await hexOf(id, 'first_name'), hex('😀'.repeat(256)), `${tag}: HEX(first_name), 1,024 bytes`);
      eq(await hexOf(id, 'last_name'), hex('é'.repeat(256)), `${tag}: HEX(last_name)`);
    });
    const sql = {
      first_name: "'; DROP TABLE users; --",
      last_name: "\\'\\\"\\\\ \\0 \\n %_ `x` \"q\" 'q'",
      username: "Robert'); DROP TABLE clerk_webhook_events;--",
      external_id: "x' OR '1'='1\\",
      image_url: 'https://x/?q=1;DELETE FROM users;--&\\\\',
    };
    await applied(d, 'SQL metacharacters in names, stored verbatim', () => signed(event(sql)), async (id, tag) => {
      for (const [k, v] of Object.entries(sql)) eq(await hexOf(id, k), hex(v), `${tag}: HEX(${k})`);
      const t = await ctx.db.query('SHOW TABLES');
      ok(t.length >= 2, `${tag}: both tables still there`);
    });
    await applied(d, 'control characters and U+2028 in names, stored verbatim', () => signed(event({ first_name: 'a\tb\nc\r\u2028\u2029\u0001\u001f', last_name: '\u200b\ufeff' })), async (id, tag) => {
      eq(await hexOf(id, 'first_name'), hex('a\tb\nc\r\u2028\u2029\u0001\u001f'), `${tag}: HEX(first_name)`);
      eq(await hexOf(id, 'last_name'), hex('\u200b\ufeff'), `${tag}: HEX(last_name)`);
    });
    // README: a \u0000 inside a name is stored byte for byte, as are the
    // JSON columns.
    await applied(d, '\\u0000 inside a name', () => signed(rawEvent({ first_name: '@FN', public_metadata: { nul: '@NUL' } }, { '@FN': '"Zo\\u0000ë"', '@NUL': '"a\\u0000b"' })), async (id, tag) => {
      eq(await hexOf(id, 'first_name'), hex('Zo\u0000ë'), `${tag}: first_name byte for byte, NUL included (README)`);
      const pm = await rawColumn(id, 'public_metadata');
      ok(typeof pm === 'string' && pm.includes('"a\\u0000b"'), `${tag}: public_metadata keeps \\u0000 verbatim (${String(pm).slice(0, 60)})`);
      const cd = await rawColumn(id, 'clerk_data');
      ok(typeof cd === 'string' && cd.includes('"Zo\\u0000ë"'), `${tag}: clerk_data keeps \\u0000 verbatim`);
    });
    const nums = '{"big":123456789012345678901234567890,"p53":9007199254740993,"neg":-9007199254740993,"exp":1e400,"frac":0.1000000000000000055511151231257827,"tiny":1.5e-07,"z":-0}';
    await applied(d, 'numbers beyond 2^53 in metadata, kept verbatim', () => signed(rawEvent({ public_metadata: '@PM' }, { '@PM': nums })), async (id, tag) => {
      eq(await rawColumn(id, 'public_metadata'), nums, `${tag}: public_metadata byte for byte`);
      const cd = await rawColumn(id, 'clerk_data');
      ok(typeof cd === 'string' && cd.includes(nums), `${tag}: clerk_data holds the same bytes`);
    });
    const long = '{"n":' + '1234567890'.repeat(7) + '}';
    await applied(d, 'a 70-digit integer in metadata, kept verbatim', () => signed(rawEvent({ public_metadata: '@PM' }, { '@PM': long })), async (id, tag) => {
      eq(await rawColumn(id, 'public_metadata'), long, `${tag}: public_metadata byte for byte`);
    });
    // README: clerk_data nested deeper than 31 goes without the deep member;
    // the other columns still sync.
    await applied(d, 'unsafe_metadata nested 40 deep', () => signed(rawEvent({ first_name: 'Deep', unsafe_metadata: '@D' }, { '@D': '['.repeat(40) + ']'.repeat(40) })), async (id, tag) => {
      const cd = await rawColumn(id, 'clerk_data');
      ok(typeof cd === 'string' && !cd.includes('unsafe_metadata') && cd.includes('"Deep"'), `${tag}: clerk_data without unsafe_metadata (README)`);
      eq(await hexOf(id, 'first_name'), hex('Deep'), `${tag}: first_name still synced`);
    });
    await applied(d, 'public_metadata a JSON string', () => signed(event({ public_metadata: 'just a string' })), async (id, tag) => {
      eq(await rawColumn(id, 'public_metadata'), '"just a string"', `${tag}: stored as the JSON text sent`);
    });
  }

  // Ambiguous JSON that the two parsers inside clerksync may read apart.
  // README: of two equal keys the first counts, and private_metadata never
  // reaches clerk_data (sync_private_metadata is off here).
  const secretText = `PRIVATE${MARK}`;
  const priv = (id, tag) => async () => {
    const cd = await rawColumn(id, 'clerk_data');
    ok(cd === null || !cd.includes(secretText), `${tag}: private_metadata content is not in clerk_data`);
    if (cd && cd.includes(secretText)) diag(`clerk_data: ${cd.slice(cd.indexOf('private') - 20, cd.indexOf('private') + 120)}`);
  };
  const pmCases = {
    'private_metadata twice (second holds the data)': { '"private_metadata":{}': `"private_metadata":{},"private_metadata":{"ssn":"${secretText}"}` },
    'private_metadata with an escaped member name': { '"private_metadata":{}': `"private_m\\u0065tadata":{"ssn":"${secretText}"}` },
  };
  for (const [n, raws] of Object.entries(pmCases)) {
    await test(`ambiguous: ${n}`, async () => {
      const body = rawEvent({}, raws);
      const id = idOf(body);
      const res = await fcgi.send(signed(body));
      ok(res.status === 400 || (res.status === 200 && res.json && res.json.status === 'applied'), `ambiguous: ${n} [fcgi]: 400 or applied (${res.status} ${res.raw.slice(0, 60)})`);
      if (res.status === 200) await priv(id, `ambiguous: ${n} [fcgi]`)();
    });
  }
  await test('ambiguous: public_metadata twice, the first one escaped', async () => {
    const body = rawEvent({}, { '"public_metadata":{}': '"public_m\\u0065tadata":{"which":"first"},"public_metadata":{"which":"second"}' });
    const id = idOf(body);
    const res = await fcgi.send(signed(body));
    const tag = 'ambiguous: public_metadata twice, the first one escaped [fcgi]';
    if (res.status === 200) eq(await rawColumn(id, 'public_metadata'), '{"which":"first"}', `${tag}: the first counts (README), or 400`);
    else ctx.expectAnswer(res, { status: 400, error: 'invalid_payload' }, `${tag}: 400 invalid_payload`);
  });
  await test('ambiguous: first_name twice', async () => {
    const body = rawEvent({ first_name: '@FN' }, { '"first_name":"@FN"': '"first_name":"First","first_name":"Second"' });
    const id = idOf(body);
    const res = await fcgi.send(signed(body));
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'ambiguous: first_name twice [fcgi]: applied');
    eq(await hexOf(id, 'first_name'), hex('First'), 'ambiguous: first_name twice [fcgi]: the first counts (README)');
  });
  await test('ambiguous: data twice, the first one escaped', async () => {
    const a = base();
    a.data.id = uid();
    a.data.first_name = 'FromEscaped';
    const b = structuredClone(a.data);
    b.id = uid();
    b.first_name = 'FromPlain';
    const body = Buffer.from(JSON.stringify(a).replace('"data":', '"d\\u0061ta":').replace(/}$/, `,"data":${JSON.stringify(b)}}`));
    const res = await fcgi.send(signed(body));
    const tag = 'ambiguous: data twice, the first one escaped [fcgi]';
    if (res.status === 200) {
      const rows = await ctx.db.query('SELECT clerk_id, first_name, JSON_VALUE(clerk_data, "$.id") AS cd_id, JSON_VALUE(clerk_data, "$.first_name") AS cd_fn FROM users WHERE clerk_id IN (?, ?)', [a.data.id, b.id]);
      const incoherent = rows.filter((r) => r.cd_id !== null && (r.cd_id !== r.clerk_id || r.cd_fn !== r.first_name));
      ok(incoherent.length === 0, `${tag}: the row is one event's data, not a mix (${JSON.stringify(rows)})`);
    } else {
      ctx.expectAnswer(res, { status: 400, error: 'invalid_payload' }, `${tag}: 400 invalid_payload`);
    }
  });
  await test('\\u0000 in data.id', async () => {
    const id = uid();
    await refused(fcgi, '\\u0000 in data.id', () => signed(rawEvent({ id: '@ID' }, { '@ID': `"${id}\\u0000x"` })), { status: 400, error: 'invalid_payload' });
    eq(await rawColumn(id, 'clerk_id'), undefined, '\\u0000 in data.id: no row under the id cut at the NUL');
  });
  // "user.created\u0000x" is not a handled type: ignored, or refused as
  // invalid; never applied as user.created.
  await test('\\u0000 in type', async () => {
    const tag = '\\u0000 in type [fcgi]';
    const before = await snapshot();
    const res = await fcgi.send(signed(rawEvent({}, { '@T': '"user.created\\u0000x"' }, { type: '@T' })));
    const a = `${res.status} ${res.json && (res.json.status || res.json.error)}`;
    ok(a === '200 ignored' || a === '400 invalid_payload', `${tag}: 200 ignored or 400 invalid_payload (${a})`);
    eq(await snapshot(), before, `${tag}: database unchanged`);
  });
}

async function contentLength(cgi, fcgi, lt) {
  const valid = () => event();
  // CGI: the body on stdin from a file and from a pipe.
  const piped = ctx.cgiDriver({ stdinMode: 'pipe' });
  piped.name = 'cgi-pipe';
  for (const d of [cgi, piped]) {
    await refused(d, 'Content-Length larger than the body', () => {
      const r = signed(valid());
      return { ...r, contentLength: r.body.length + 10 };
    }, { status: 400, error: 'bad_request' });
    await refused(d, 'Content-Length one byte larger than the body', () => {
      const r = signed(valid());
      return { ...r, contentLength: r.body.length + 1 };
    }, { status: 400, error: 'bad_request' });
    await refused(d, 'Content-Length smaller than the body', () => {
      const r = signed(valid());
      return { ...r, contentLength: r.body.length - 10 };
    }, { status: 401, error: 'invalid_signature' });
    await refused(d, 'Content-Length 0 with a body', () => ({ ...signed(valid()), contentLength: 0 }), { status: 401, error: 'invalid_signature' });
  }
  await refused(fcgi, 'Content-Length smaller than the body', () => {
    const r = signed(valid());
    return { ...r, contentLength: r.body.length - 10 };
  }, { status: 401, error: 'invalid_signature' });

  // lighttpd, over a raw socket.
  const port = lt.server.port;
  const rawCase = async (name, build, check) => {
    await test(`${name} [lighttpd raw]`, async () => {
      const before = await snapshot();
      const res = await rawHttp(port, build());
      check(res, `${name} [lighttpd raw]`);
      eq(await snapshot(), before, `${name} [lighttpd raw]: database unchanged`);
    });
  };
  const headersFor = (r, cl, more = {}) => ({ ...r.headers, 'Content-Length': String(cl), Connection: 'close', ...more });
  await rawCase('Content-Length larger than the body (then EOF)', () => {
    const r = signed(valid());
    return Buffer.concat([httpHead(port, headersFor(r, r.body.length + 100)), r.body]);
  }, (res, tag) => ok(!res.statuses.some((s) => s >= 200 && s < 300), `${tag}: no 2xx (${res.statuses.join(',') || res.why})`));
  await rawCase('Content-Length smaller than the body', () => {
    const r = signed(valid());
    return Buffer.concat([httpHead(port, headersFor(r, r.body.length - 20, { Connection: 'keep-alive' })), r.body]);
  }, (res, tag) => {
    eq(res.statuses[0], 401, `${tag}: the short body fails its signature (${res.statuses.join(',')})`);
    ok(!res.statuses.some((s) => s >= 200 && s < 300), `${tag}: no 2xx for the leftover bytes`);
  });
  await rawCase('Content-Length and Transfer-Encoding: chunked', () => {
    const r = signed(valid());
    const chunked = Buffer.concat([Buffer.from(r.body.length.toString(16) + '\r\n'), r.body, Buffer.from('\r\n0\r\n\r\n')]);
    return Buffer.concat([httpHead(port, headersFor(r, r.body.length, { 'Transfer-Encoding': 'chunked' })), chunked]);
  }, (res, tag) => ok(!res.statuses.some((s) => s >= 200 && s < 300), `${tag}: refused (${res.statuses.join(',') || res.why})`));
  await rawCase('two different Content-Length headers', () => {
    const r = signed(valid());
    return Buffer.concat([httpHead(port, headersFor(r, r.body.length), `Content-Length: ${r.body.length - 5}\r\n`), r.body]);
  }, (res, tag) => ok(!res.statuses.some((s) => s >= 200 && s < 300), `${tag}: refused (${res.statuses.join(',') || res.why})`));
  await rawCase('Content-Length -1', () => {
    const r = signed(valid());
    return Buffer.concat([httpHead(port, headersFor(r, -1)), r.body]);
  }, (res, tag) => ok(!res.statuses.some((s) => s >= 200 && s < 300), `${tag}: refused (${res.statuses.join(',') || res.why})`));
  await rawCase('chunked body of 2 MiB (no Content-Length from the client)', () => {
    const body = Buffer.concat([valid(), Buffer.alloc(2 * 1048576, ' ')]);
    const r = signed(body);
    const { 'Content-Length': _, ...h } = headersFor(r, 0, { 'Transfer-Encoding': 'chunked' });
    const parts = [];
    for (let i = 0; i < body.length; i += 65536) {
      const c = body.subarray(i, i + 65536);
      parts.push(Buffer.from(c.length.toString(16) + '\r\n'), c, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat([httpHead(port, h), ...parts]);
  }, (res, tag) => {
    eq(res.statuses[0], 413, `${tag}: 413 (${res.statuses.join(',') || res.why})`);
    ok(res.bodies[0] === undefined || /payload_too_large/.test(res.bodies[0]), `${tag}: payload_too_large`);
  });
  // FastCGI spoken directly: the body can disagree with CONTENT_LENGTH.
  const direct = ctx.wrap(fcgiSocketDriver(fcgi.socket));
  await refused(direct, 'CONTENT_LENGTH larger than the FastCGI stdin', () => {
    const r = signed(valid());
    return { ...r, contentLength: r.body.length + 10 };
  }, { status: 400, error: 'bad_request' });
  await refused(direct, 'CONTENT_LENGTH 1,000,000 and an empty stdin', () => ({ ...signed(valid()), contentLength: 1000000, body: Buffer.alloc(0) }), { status: 400, error: 'bad_request' });
  await refused(direct, 'CONTENT_LENGTH smaller than the FastCGI stdin', () => {
    const r = signed(valid());
    return { ...r, contentLength: r.body.length - 10 };
  }, { status: 401, error: 'invalid_signature' });
  await refused(direct, 'no REQUEST_METHOD at all', () => ({ ...signed(valid()), params: { REQUEST_METHOD: '' } }), { status: 405, error: 'method_not_allowed', allow: true });
  await applied(direct, '10,000 extra FastCGI params around a valid request', () => {
    const r = signed(valid());
    const params = {};
    for (let i = 0; i < 10000; i++) params[`HTTP_X_JUNK_${i}`] = 'j'.repeat(i % 50);
    return { ...r, params };
  });
  await test('FastCGI client hangs up mid-body', async () => {
    const before = await snapshot();
    const r = signed(valid());
    const res = await direct.send({ ...r, cutAfter: 400 + Math.floor(r.body.length / 2) });
    ok(!(res.status >= 200 && res.status < 300), `hang-up mid-body [fcgi-direct]: no 2xx (${res.status || res.closed})`);
    eq(await snapshot(), before, 'hang-up mid-body [fcgi-direct]: database unchanged');
    ok(fcgi.alive, 'hang-up mid-body: the FastCGI process lives on');
    const next = await direct.send(signed(valid()));
    ctx.expectAnswer(next, { status: 200, body: 'applied' }, 'hang-up mid-body: the next request is applied');
  });

  await test('max_body boundary', async () => {
    const small = ctx.cgiDriver({ conf: ctx.config({ max_body: 4000 }) });
    const ev = valid();
    const pad = (n) => Buffer.concat([ev, Buffer.alloc(n - ev.length, ' ')]);
    await refused(small, 'max_body 4000: a body of 4001 bytes', () => signed(pad(4001)), { status: 413, error: 'payload_too_large' });
    await applied(small, 'max_body 4000: a body of exactly 4000 bytes', () => signed(pad(4000)));
  });
}

// SPEC 1: no database work of any kind before the signature is verified,
// pruning included. The server's Connections counter (every connection
// attempt) is read before and after on one separate connection, whose own
// connecting is done before the first read: it must not move. Under CGI
// pruning was decided by the pid (1 in 100), so 500 processes reach it;
// a fresh FastCGI process pruned on its first request of any kind.
async function strangers() {
  const body = () => event();
  const kinds = [
    ['GET', () => ({ method: 'GET', headers: {}, contentLength: null })],
    ['HEAD', () => ({ method: 'HEAD', headers: {}, contentLength: null })],
    ['PUT', () => ({ method: 'PUT', headers: {}, body: body() })],
    ['DELETE', () => ({ method: 'DELETE', headers: {}, body: body() })],
    ['OPTIONS', () => ({ method: 'OPTIONS', headers: {}, contentLength: null })],
    ['POST without a signature', () => ({ headers: {}, body: body() })],
    ['POST with a bad signature', () => {
      const b = body();
      return { headers: signedHeaders(newSecret(), b), body: b };
    }],
  ];
  // Under a wrapper (valgrind: over a second a process) 5 of each kind:
  // that pass looks for memory errors; the release pass counts 500.
  const N = process.env.CLERKSYNC_WRAP ? 35 : 500;
  const conn = await ctx.db.rootConnection();
  const connections = async () => Number((await conn.query("SHOW GLOBAL STATUS LIKE 'Connections'"))[0][0].Value);
  try {
    const fresh = await ctx.fcgiDriver({ name: 'fcgi-strangers' });
    for (const d of [ctx.cgi, fresh]) {
      await test(`${N} unsigned requests open no database connection [${d.name}]`, async () => {
        const tag = `strangers [${d.name}]`;
        const a = await connections();
        eq(await connections(), a, `${tag}: reading the counter adds nothing to it`);
        const statuses = {};
        let next = 0;
        const worker = async () => {
          while (next < N) {
            const [name, req] = kinds[next++ % kinds.length];
            const res = await d.send(req());
            statuses[name] = statuses[name] || new Set();
            statuses[name].add(res.status);
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        const seen = Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, [...v].sort().join(',')]));
        eq(seen, {
          GET: '405', HEAD: '405', PUT: '405', DELETE: '405', OPTIONS: '405',
          'POST without a signature': '400', 'POST with a bad signature': '401',
        }, `${tag}: every one refused`);
        const b = await connections();
        eq(b - a, 0, `${tag}: the server's Connections counter did not move (${a} -> ${b})`);
      });
    }
    await test('a verified request still prunes [fcgi]', async () => {
      const a = await connections();
      const res = await fresh.send(signed(event()));
      ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'strangers [fcgi]: then a signed event applies');
      ok((await connections()) - a >= 1, 'strangers [fcgi]: and connects');
    });
  } finally {
    await conn.end();
  }
}

// The log line: an svix-id is logged only once verified, and every value
// from a request is escaped into its field (README: the log line).
async function logLines() {
  const forgedId = 'x type=user.deleted object=user_victim outcome=applied status=200 ms=0.1 #';
  const log = ctx.logPath('loglines');
  const conf = ctx.config({ log_file: log });
  const fcgiLog = await ctx.fcgiDriver({ conf, name: 'fcgi-loglines' });
  // The request lines (a CGI process run as root also warns of that).
  const lines = () => (fs.existsSync(log) ? fs.readFileSync(log, 'latin1').split('\n').filter((l) => / svix_id=/.test(l)) : []);
  for (const d of [ctx.cgiDriver({ conf }), fcgiLog]) {
    await test(`a forged svix-id with a bad signature [${d.name}]`, async () => {
      const tag = `forged svix-id [${d.name}]`;
      const from = lines().length;
      const b = event();
      const bad = await d.send({ headers: signedHeaders(newSecret(), b, { id: forgedId }), body: b });
      ctx.expectAnswer(bad, { status: 401, error: 'invalid_signature' }, `${tag}: 401`);
      const good = signed(event());
      const res = await d.send(good);
      ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: then a signed event applies`);
      const got = lines().slice(from);
      eq(got.length, 2, `${tag}: two lines`);
      ok(/ info: svix_id=- type=- object=- outcome=invalid_signature status=401 ms=[0-9.]+$/.test(got[0] || ''),
        `${tag}: the forged request's line reads svix_id=- (${got[0]})`);
      eq(got.filter((l) => /outcome=applied/.test(l)).length, 1, `${tag}: outcome=applied once`);
      ok(got[1] && got[1].includes(` svix_id=${good.headers['svix-id']} type=user.created object=${idOf(good.body)} outcome=applied status=200 `),
        `${tag}: and that is the real one (${got[1]})`);
      ok(!got.join('\n').includes('user_victim'), `${tag}: nothing of the forged header is in the log`);
    });
    await test(`values from a signed request are escaped [${d.name}]`, async () => {
      const tag = `escaped [${d.name}]`;
      const from = lines().length;
      const type = 'user.created x=1 outcome=applied\\ "é"';
      const r = signed(event({}, { type }), { id: 'msg_a=b' });
      const res = await d.send(r);
      ctx.expectAnswer(res, { status: 200, body: 'ignored' }, `${tag}: a type not handled is ignored`);
      const got = lines().slice(from);
      eq(got.length, 1, `${tag}: one line`);
      const want = ' svix_id=msg_a\\x3db type=user.created\\x20x\\x3d1\\x20outcome\\x3dapplied\\\\\\x20\\x22\\xc3\\xa9\\x22 ';
      ok(got[0] && got[0].includes(want), `${tag}: the svix-id and type are escaped (${got[0]})`);
      eq((got[0] || '').match(/ [a-z_]+=/g), [' svix_id=', ' type=', ' object=', ' outcome=', ' status=', ' ms='], `${tag}: and make no field of their own`);
    });
    await test(`a detail is quoted [${d.name}]`, async () => {
      const tag = `detail [${d.name}]`;
      const from = lines().length;
      const res = await d.send({ ...signed(event()), contentLength: 'abc' });
      ctx.expectAnswer(res, { status: 400, error: 'bad_request' }, `${tag}: 400`);
      const got = lines().slice(from);
      ok(got.length === 1 && / svix_id=- type=- object=- outcome=bad_request status=400 ms=[0-9.]+ detail="Content-Length is not a decimal number"$/.test(got[0]),
        `${tag}: detail="..." ends the line (${got[0]})`);
    });
  }
}

// A web server never runs a subcommand, whatever argv holds (RFC 3875 4.4:
// a query string without '=' becomes arguments): a CGI request is told by
// GATEWAY_INTERFACE or REQUEST_METHOD, a FastCGI process by the listening
// socket on its stdin. A script stands in for a server that passes `check`.
async function subcommandsFromTheWeb() {
  const script = (name, unset) => {
    const file = path.join(ctx.dir, `${name}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\n${unset ? `unset ${unset}\n` : ''}exec '${ctx.bin.replace(/'/g, `'\\''`)}' check\n`, { mode: 0o755 });
    return file;
  };
  const get = { method: 'GET', headers: {}, contentLength: null };
  const env = { CLERKSYNC_CONFIG: ctx.conf };
  const cases = [
    ['CGI, `check` in argv', () => cgiDriver({ bin: script('argv-check'), env, dir: ctx.dir })],
    ['CGI without GATEWAY_INTERFACE, `check` in argv', () => cgiDriver({ bin: script('argv-check-nogw', 'GATEWAY_INTERFACE'), env, dir: ctx.dir })],
    ['FastCGI (spawn-fcgi), `check` in argv', () => fcgiDriver({ bin: script('argv-check-fcgi', 'GATEWAY_INTERFACE'), env, dir: ctx.dir, name: 'fcgi-argv' })],
  ];
  for (const [name, make] of cases) {
    await test(`subcommand from the web: ${name}`, async () => {
      let d;
      try {
        d = ctx.wrap(await make());
      } catch (e) {
        ok(false, `${name}: the process serves (${e.message.split('\n')[0]})`);
        return;
      }
      const res = await d.send(get);
      ctx.expectAnswer(res, { status: 405, error: 'method_not_allowed' }, `${name}: answered as a request, not a subcommand`);
      ok(!/schema|signing_secret:|database:/.test(res.raw || ''), `${name}: no output of check`);
    });
  }
}

// log_file is never opened through a symbolic link; the warning names the
// path and the reason, and the answer is unchanged.
async function logSymlink() {
  await test('log_file is a symbolic link', async () => {
    const target = path.join(ctx.dir, 'symlink-target');
    const link = path.join(ctx.dir, 'symlink.log');
    fs.writeFileSync(target, '');
    fs.symlinkSync(target, link);
    const d = ctx.cgiDriver({ conf: ctx.config({ log_file: link }) });
    const res = await d.send({ method: 'GET', headers: {}, contentLength: null });
    ctx.expectAnswer(res, { status: 405, error: 'method_not_allowed' }, 'log_file symlink [cgi]: 405 as ever');
    ok(res.stderr.includes(`log_file: cannot open ${link}: Too many levels of symbolic links`),
      `log_file symlink [cgi]: stderr names the path and the reason (${res.stderr.trim().split('\n').pop()})`);
    eq(fs.readFileSync(target, 'utf8'), '', 'log_file symlink [cgi]: nothing written through the link');
  });
}

// Database error text can quote a row: a duplicate key names the value,
// a trigger's SIGNAL says what the app wrote. The log keeps the number,
// the SQLSTATE and a fixed phrase; the answer is 500 as before.
async function dbErrorText() {
  const log = ctx.logPath('dberrors');
  const d = await ctx.fcgiDriver({ conf: ctx.config({ log_file: log }), name: 'fcgi-dberrors' });
  const text = () => (fs.existsSync(log) ? fs.readFileSync(log, 'latin1') : '');
  const email = `dup-${MARK.toLowerCase()}@example.com`;
  const withEmail = () => event({ email_addresses: [{ ...base().data.email_addresses[0], email_address: email }] });
  await test('database error text: a duplicate entry', async () => {
    await ctx.db.query('CREATE TABLE hostile_emails (email VARCHAR(320) PRIMARY KEY)');
    await ctx.db.query('CREATE TRIGGER hostile_dup BEFORE INSERT ON users FOR EACH ROW INSERT INTO hostile_emails VALUES (NEW.email)');
    try {
      await applied(d, 'database error text: the first user with the address', () => signed(withEmail()));
      await refused(d, 'database error text: a second user with the same address (1062 from a trigger)', () => signed(withEmail()), { status: 500, error: 'internal' });
      const t = text();
      ok(/ error: svix_id=msg_\S+ error="execute: 1062 \(SQLSTATE 23000\) duplicate entry for a unique key; the server's text may quote row data and is not logged"/.test(t),
        `database error text: 1062 is logged as its number, SQLSTATE and a phrase (${t.split('\n').find((l) => l.includes('1062'))})`);
      ok(!t.includes(email) && !t.includes('Duplicate entry'), 'database error text: the address is not in the log');
    } finally {
      await ctx.db.query('DROP TRIGGER IF EXISTS hostile_dup');
      await ctx.db.query('DROP TABLE IF EXISTS hostile_emails');
    }
  });
  await test('database error text: a SIGNAL quoting the row', async () => {
    await ctx.db.query("CREATE TRIGGER hostile_say BEFORE INSERT ON users FOR EACH ROW BEGIN DECLARE m VARCHAR(400); SET m = CONCAT('no thanks ', NEW.email); SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = m; END");
    try {
      await refused(d, 'database error text: a trigger refuses the row with its address', () => signed(withEmail()), { status: 500, error: 'internal' });
      const t = text();
      ok(/ error="execute: 1644 \(SQLSTATE 45000\) raised by a trigger or procedure \(SIGNAL\); /.test(t), 'database error text: 1644 as its number, SQLSTATE and a phrase');
      ok(!t.includes(email) && !t.includes('no thanks'), 'database error text: the trigger\'s words are not in the log');
    } finally {
      await ctx.db.query('DROP TRIGGER IF EXISTS hostile_say');
    }
  });
}

// ---------------------------------------------------------------- run

let fcgi;
let lt;
try {
  await ctx.setup();
  fcgi = await ctx.fcgiDriver();
  lt = await ctx.lighttpdDriver();
  // Some rows to protect, one with the app's own columns.
  for (const f of ['user.created.json', 'user.created.phone-only.json', 'user.created.username-only.json', 'user.deleted.external-id.json']) {
    const res = await ctx.deliver(ctx.cgi, ctx.fixture(f));
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, `seed row: ${f}`);
  }
  await ctx.db.query("UPDATE users SET bio = 'app bio', country = 'SE', birthday = '1990-01-02' WHERE clerk_id = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV'");
  const drivers = [ctx.cgi, fcgi, lt];

  await specRows(drivers);
  await unavailable(fcgi);
  await signatures(drivers);
  await headerSizes(ctx.cgi, fcgi, lt);
  await bodies([ctx.cgi, fcgi, lt]);
  await stored(fcgi, lt);
  await contentLength(ctx.cgi, fcgi, lt);
  await strangers();
  await logLines();
  await subcommandsFromTheWeb();
  await logSymlink();
  await dbErrorText();

  const app = await ctx.appColumns('user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV');
  eq(app, { birthday: '1990-01-02', country: 'SE', bio: 'app bio' }, 'app-owned columns of the seed row untouched');
  ok(fcgi.alive, 'FastCGI process survived every case');
  ok(lt.server.alive, 'lighttpd survived every case');
  const after = await fcgi.send(signed(event()));
  ctx.expectAnswer(after, { status: 200, body: 'applied' }, 'FastCGI process still applies events after all of it');
  const after2 = await lt.send(signed(event()));
  ctx.expectAnswer(after2, { status: 200, body: 'applied' }, 'lighttpd workers still apply events after all of it');

  // Nothing echoed: no body bytes, signature or secret in any answer.
  const leaks = [];
  ctx.responses.forEach((r, i) => {
    if (!r || !r.raw) return;
    if (r.raw.includes(MARK)) leaks.push(`answer ${i} echoes the body`);
    if (r.raw.includes(ctx.secret.slice(6))) leaks.push(`answer ${i} echoes the secret`);
    for (const e of String(r.sentSignature || '').split(' ').slice(0, 40)) {
      if (e.length > 40 && r.raw.includes(e.slice(3))) leaks.push(`answer ${i} echoes a signature`);
    }
    if (r.raw.length > 2048) leaks.push(`answer ${i} is ${r.raw.length} bytes`);
  });
  eq(leaks, [], `no answer echoes the body, a signature or the secret (${ctx.responses.length} answers)`);
  const logs = [...new Set(ctx.logFiles)].filter((f) => f && fs.existsSync(f));
  const logText = logs.map((f) => fs.readFileSync(f, 'latin1')).join('');
  const logLeaks = [];
  if (logText.includes(MARK)) logLeaks.push('a body');
  if (logText.includes(ctx.secret.slice(6))) logLeaks.push('the secret');
  if (logText.includes(ctx.db.password)) logLeaks.push('the database password');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(logText)) logLeaks.push('a raw control byte');
  const longest = Math.max(0, ...logText.split('\n').map((l) => l.length));
  if (longest > 4096) logLeaks.push(`a line of ${longest} bytes`);
  eq(logLeaks, [], `logs hold no body, secret, password, raw control byte or giant line (${logText.split('\n').length} lines)`);
  const crash = logs.filter((f) => SANITIZER.test(fs.readFileSync(f, 'latin1')));
  const cgiBad = ctx.responses.filter((r) => r && r.driver && r.driver.startsWith('cgi') && (r.signal || (r.exitCode !== 0 && r.exitCode !== undefined)));
  eq(crash, [], 'no sanitizer or crash report in any log');
  eq(cgiBad.map((r) => `${r.exitCode}/${r.signal}`), [], 'every CGI process exited 0');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  await ctx.teardown();
}
diag(`hostile suite took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
