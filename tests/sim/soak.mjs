// Soak: N signed requests to ONE FastCGI process (spawn-fcgi), spoken to
// directly over its socket, with the resident set size (VmRSS from
// /proc/<pid>/status) sampled every 10% of the way. Prints the series and
// asserts that after warm-up (the first 10%) it grows by at most 1 MiB.
// The mix covers every path: applied, stale, duplicate, deleted, ignored,
// bad signature, bad payload, and now and then a large body.
//
// usage: node tests/sim/soak.mjs [--requests N] [--concurrency C] [--max-growth KiB]
//        (default 5000, 2, 1024; TAP on stdout; CLERKSYNC_BIN as run.mjs)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { fcgiDriver } from '../lib/drivers.mjs';
import { cgiEnv, parseCgiOutput } from '../lib/http.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { alive, onCleanup, tmpDir, which } from '../lib/procs.mjs';
import { newSecret, nowSeconds, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok } from '../lib/tap.mjs';
import { fcgiRequest } from './fcgi-client.mjs';
import { prng } from './history.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(process.env.CLERKSYNC_SRC || path.join(here, '..', '..'));
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const fixtures = path.join(src, 'tests', 'fixtures', 'clerk');

const opt = { requests: 5000, concurrency: 2, maxGrowth: 1024 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => Number(process.argv[++i]);
  if (a === '--requests') opt.requests = v();
  else if (a === '--concurrency') opt.concurrency = Math.max(1, Math.min(8, v()));
  else if (a === '--max-growth') opt.maxGrowth = v();
  else {
    console.error(`unknown argument ${a}`);
    process.exit(2);
  }
}
if (!Number.isInteger(opt.requests) || opt.requests < 10) {
  console.error('--requests: an integer of at least 10');
  process.exit(2);
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const started = Date.now();
const missing = ['mariadbd', 'mariadb-install-db', 'spawn-fcgi'].filter((t) => !which(t));
if (!ok(missing.length === 0, `tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`) ||
    !ok(fs.existsSync(bin), `binary built: ${bin}`)) {
  process.exit(done() ? 1 : 0);
}
const dir = tmpDir('clerksync-soak-');
onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));

const base = JSON.parse(fs.readFileSync(path.join(fixtures, 'user.updated.json'), 'utf8'));
const deletedShape = JSON.parse(fs.readFileSync(path.join(fixtures, 'user.deleted.json'), 'utf8'));
const session = fs.readFileSync(path.join(fixtures, 'session.created.json'));
const r = prng(7);
const secret = newSecret();

// The request mix, made up front of each request (cheap, deterministic).
// Replays and stale events only refer to requests at least GAP before, so
// that with concurrency the original has certainly been answered.
const GAP = 20;
const users = Array.from({ length: 200 }, (_, i) => ({ id: r.id(`user_soak${i}_`, 20), at: 1773480413000 + i * 1000, since: null }));
const recent = [];
let msgSeq = 0;
const big = 'x'.repeat(200000);
function nextRequest(i) {
  const roll = r.next();
  const u = users[r.int(0, users.length - 1)];
  const mk = (data, type = 'user.updated', ts = data.updated_at + 5) => Buffer.from(JSON.stringify({ ...base, data, type, timestamp: ts }));
  let body;
  let expect;
  let id = `msg_soak${String(++msgSeq).padStart(8, '0')}`;
  const old = recent.filter((x) => x.i < i - GAP);
  if (roll < 0.08 && old.length) {
    ({ id, body } = old[r.int(0, old.length - 1)]);
    expect = [200, 'duplicate'];
  } else if (roll < 0.16 && u.since !== null && u.since < i - GAP) {
    body = mk({ ...base.data, id: u.id, updated_at: u.first - r.int(1, 500), first_name: `stale ${i}` });
    expect = [200, 'stale'];
  } else if (roll < 0.19) {
    body = Buffer.from(JSON.stringify({ ...deletedShape, data: { ...deletedShape.data, id: u.id }, timestamp: u.at + 10 }));
    u.id = r.id('user_soakn_', 20); // the next events are for a new user
    u.since = null;
    expect = [200, 'applied'];
  } else if (roll < 0.23) {
    body = mk({ ...base.data, id: u.id, updated_at: u.at + 1 });
    return { id, body, headers: signedHeaders(newSecret(), body, { id }), expect: [401, 'invalid_signature'] };
  } else if (roll < 0.27) {
    body = Buffer.from(`{"type":"user.updated","data":{"id":"${u.id}","updated_at":"soon","first_name":"${i}"}}`);
    expect = [400, 'invalid_payload'];
  } else if (roll < 0.29) {
    body = session;
    expect = [200, 'ignored'];
  } else {
    u.at += r.int(1, 1000);
    if (u.since === null) {
      u.since = i;
      u.first = u.at;
    }
    const data = { ...base.data, id: u.id, updated_at: u.at, first_name: `Zoë ${i} 🚀`, last_sign_in_at: u.at - 7 };
    if (roll > 0.99) data.unsafe_metadata = { big: big.slice(0, r.int(70000, 200000)) };
    body = mk(data);
    expect = [200, 'applied'];
  }
  if (expect[1] === 'applied') {
    recent.push({ i, id, body });
    if (recent.length > 100) recent.shift();
  }
  return { id, body, expect };
}

let db;
let fcgi;
try {
  db = await startTempMariaDB({});
  await db.createDatabase({ schemaDir: path.join(src, 'schema') });
  const conf = writeConfig(path.join(dir, 'clerksync.conf'), {
    signing_secret: secret,
    db_socket: db.socket,
    db_user: db.user,
    db_password: db.password,
    db_name: db.database,
    log_level: 'warn',
    log_file: path.join(dir, 'clerksync.log'),
  });
  fcgi = await fcgiDriver({ bin, env: { CLERKSYNC_CONFIG: conf }, dir, name: 'soak' });
  diag(`binary ${bin}; one FastCGI process, pid ${fcgi.pid}; ${opt.requests} requests, concurrency ${opt.concurrency}`);

  const step = Math.max(1, Math.floor(opt.requests / 10));
  const samples = [{ at: 0, kib: rssKiB(fcgi.pid) }];
  const wrong = [];
  const counts = {};
  let next = 0;
  let sent = 0;
  let sampling = Promise.resolve();
  const t0 = Date.now();
  const worker = async () => {
    while (next < opt.requests) {
      const i = next++;
      const req = nextRequest(i);
      const headers = req.headers || signedHeaders(secret, req.body, { id: req.id, ts: nowSeconds() });
      const res = await fcgiRequest(fcgi.socket, { params: cgiEnv({ headers, body: req.body }), stdin: req.body });
      const a = parseCgiOutput(res.stdout);
      const word = a.json ? a.json.status || a.json.error : res.closed;
      counts[`${a.status} ${word}`] = (counts[`${a.status} ${word}`] || 0) + 1;
      if (a.status !== req.expect[0] || word !== req.expect[1]) {
        if (wrong.length < 10) wrong.push(`#${i}: expected ${req.expect.join(' ')}, got ${a.status} ${word}`);
        else wrong.push(null);
      }
      sent++;
      if (sent % step === 0 && samples.length <= 10) {
        // Sample between requests as far as this worker knows.
        sampling = sampling.then(() => samples.push({ at: sent, kib: rssKiB(fcgi.pid) }));
      }
    }
  };
  await Promise.all(Array.from({ length: opt.concurrency }, worker));
  await sampling;
  const secs = (Date.now() - t0) / 1000;
  if (samples.at(-1).at !== sent) samples.push({ at: sent, kib: rssKiB(fcgi.pid) });

  diag(`${sent} requests in ${secs.toFixed(1)} s (${Math.round(sent / secs)}/s); answers ${JSON.stringify(counts)}`);
  diag(`RSS KiB: ${samples.map((s) => `${s.at}:${s.kib}`).join(' ')}`);
  ok(wrong.length === 0, `every answer as expected (${wrong.length} not)`);
  for (const w of wrong.filter(Boolean)) diag(`  ${w}`);
  const warm = samples.find((s) => s.at >= step) || samples[0];
  const after = samples.filter((s) => s.at >= warm.at);
  const peak = Math.max(...after.map((s) => s.kib));
  const growth = peak - warm.kib;
  ok(growth <= opt.maxGrowth, `RSS growth after warm-up ${growth} KiB <= ${opt.maxGrowth} KiB (${warm.kib} -> peak ${peak}, last ${samples.at(-1).kib})`);
  ok(fcgi.alive && alive(fcgi.pid), `the FastCGI process (pid ${fcgi.pid}) is the same one, still running`);
  const [{ n }] = await db.query('SELECT COUNT(*) AS n FROM clerk_webhook_events');
  eq(Number(n), (counts['200 applied'] || 0) + (counts['200 stale'] || 0), 'events rows = applied + stale answers');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (fcgi) await fcgi.close();
  if (db) await db.stop();
}
diag(`soak took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
