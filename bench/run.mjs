// clerksync benchmark (make bench, or bash bench/run.sh [BIN]).
//
// One private MariaDB (default durability: innodb_flush_log_at_trx_commit
// left at 1), then on that same database, in this order:
//   1. a check that bench/ceiling.c issues word for word the statements
//      the binary prepares (MariaDB's general log, one CGI request each);
//   2. FastCGI: lighttpd with 2 clerksync processes, N unique signed events
//      replayed by wrk over keep-alive connections at concurrency 8;
//   3. the ceiling: the same SQL through Connector/C alone, N other events,
//      8 threads with a connection each;
//   4. FastCGI again at concurrency 32 (N more events), then VmRSS;
//   4b. FastCGI with 8 processes at concurrency 8 (N more events): as many
//      connections as the ceiling's 8, for the ratio at equal concurrency;
//   5. CGI: lighttpd mod_cgi, a process and a connection per request, c=8,
//      with the binary given, with build/static/clerksync.fcgi, and with
//      the release (dist/*.tar.gz unpacked, or CLERKSYNC_RELEASE);
//   6. callgrind: one FastCGI process under valgrind serving M events.
// After each run the tables are checked (rows per set, final state of each
// user) and a run with any non-2xx answer or wrong row fails.
//
// Environment: N (default 20000), BENCH_QUICK=1 (N=2000, M=200, no waiting
// for a quiet machine), BENCH_CGI_N (default N/4), BENCH_CALLGRIND_M
// (default 2000), BENCH_WAIT_QUIET (seconds to wait for a 1-minute load
// average below 0.5; default 600, 0 in quick mode), BENCH_KEEP=DIR (copy
// the raw outputs there: summary.json, callgrind, logs).
// SPDX-License-Identifier: ISC
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgiDriver, lighttpdConf } from '../tests/lib/drivers.mjs';
import { cgiEnv } from '../tests/lib/http.mjs';
import { MariaDB } from '../tests/lib/mariadb.mjs';
import {
  childPids, exited, freePort, need, onCleanup, sleep, spawnTracked, startServer, terminate, tmpDir, track, waitFor, which,
} from '../tests/lib/procs.mjs';
import { newSecret } from '../tests/lib/sign.mjs';
import { writeConfig } from '../tests/lib/conf.mjs';
import { ceilingRecord, httpRequest, makeSet, signSet, sizes } from './events.mjs';

// The tests' CLERKSYNC_WRAP (valgrind etc. around the binary) must not
// reach a measurement.
delete process.env.CLERKSYNC_WRAP;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const env = process.env;
const QUICK = env.BENCH_QUICK === '1';
const int = (v, d) => (v === undefined || v === '' ? d : Math.max(0, parseInt(v, 10) || 0));
const N = Math.max(64, int(env.N ?? env.BENCH_N, QUICK ? 2000 : 20000));
const CGI_N = Math.max(64, int(env.BENCH_CGI_N, Math.round(N / 4)));
const M = Math.max(16, int(env.BENCH_CALLGRIND_M, QUICK ? 200 : 2000));
const WAIT_QUIET = int(env.BENCH_WAIT_QUIET, QUICK ? 0 : 600);
const KEEP = env.BENCH_KEEP ? path.resolve(env.BENCH_KEEP) : null;
const bin = path.resolve(process.argv[2] || env.CLERKSYNC_BIN || path.join(root, 'cgi-bin', 'clerksync.fcgi'));
const staticBin = path.resolve(env.CLERKSYNC_STATIC_BIN || path.join(root, 'build', 'static', 'clerksync.fcgi'));
// make release: the tarball's folder, unpacked, its launcher as the CGI.
const releaseTar = env.CLERKSYNC_RELEASE || (() => {
  const d = path.join(root, 'dist');
  const f = fs.existsSync(d) ? fs.readdirSync(d).filter((x) => /^clerksync-.*-linux-x86_64\.tar\.gz$/.test(x)).sort() : [];
  return f.length ? path.join(d, f[f.length - 1]) : null;
})();
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const TARGETS = { fcgi8: 4300, ratio: 0.9, cpu: 60, rssKiB: 8 * 1024, cgi: 1080 };

const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.log(`  FAIL ${msg}`);
};
const log = (...a) => console.log(...a);
const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toLocaleString('en-US', {
  minimumFractionDigits: d, maximumFractionDigits: d,
}));

// ---------------------------------------------------------------- machine

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const mem = fs.readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/);
  const first = (re, cmd, args) => {
    try {
      const r = spawnSync(need(cmd), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = r.stdout.toString() + r.stderr.toString();
      return (out.match(re) || [out.split('\n')[0]])[0].trim();
    } catch {
      return '?';
    }
  };
  return {
    nproc: os.cpus().length,
    cpu: (cpuinfo.match(/model name\s*:\s*(.*)/) || [, '?'])[1],
    mhz: (cpuinfo.match(/cpu MHz\s*:\s*(.*)/) || [, '?'])[1],
    memGiB: mem ? Number(mem[1]) / 1048576 : null,
    kernel: os.release(),
    os: (fs.existsSync('/etc/debian_version') ? 'Debian ' + fs.readFileSync('/etc/debian_version', 'utf8').trim() : os.type()),
    lighttpd: first(/lighttpd\/\S+/, 'lighttpd', ['-v']),
    wrk: first(/wrk \S+/, 'wrk', ['-v']),
    valgrind: first(/valgrind-\S+/, 'valgrind', ['--version']),
    node: process.version,
  };
}

const loadavg = () => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function waitQuiet() {
  const start = Date.now();
  let l = loadavg();
  if (WAIT_QUIET > 0 && l >= 0.5) log(`waiting up to ${WAIT_QUIET} s for a quiet machine (load ${l}) ...`);
  while (l >= 0.5 && Date.now() - start < WAIT_QUIET * 1000) {
    await sleep(5000);
    l = loadavg();
  }
  return { quiet: l < 0.5, load: l, waited: Math.round((Date.now() - start) / 1000) };
}

// ------------------------------------------------------------------- CPU

function procTimes(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields from 3 (state): utime is 14, stime 15, cutime 16, cstime 17
    return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), selfSys: Number(f[12]), childrenSys: Number(f[14]) };
  } catch {
    return { self: 0, children: 0, selfSys: 0, childrenSys: 0 };
  }
}

function machineTimes() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq + steal, idle, iowait, steal, total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
}

function procStatus(pid) {
  const out = {};
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const m = line.match(/^(VmRSS|VmHWM|VmSize):\s+(\d+) kB/);
      if (m) out[m[1]] = Number(m[2]);
    }
  } catch {}
  return out;
}

// A CPU snapshot of named pids ({ name: [pid, ...] }) and of the machine.
function snapshot(groups) {
  const out = { t: process.hrtime.bigint(), machine: machineTimes(), node: process.cpuUsage(), groups: {} };
  for (const [name, pids] of Object.entries(groups)) {
    out.groups[name] = { self: 0, children: 0, selfSys: 0, childrenSys: 0 };
    for (const pid of pids) {
      const t = procTimes(pid);
      for (const k of Object.keys(t)) out.groups[name][k] += t[k];
    }
  }
  return out;
}

// CPU microseconds per group between two snapshots, and the rest.
function cpuDelta(a, b) {
  const us = (ticks) => (ticks * 1e6) / TICK;
  const out = { groups: {} };
  let ours = 0;
  for (const name of Object.keys(a.groups)) {
    const self = us(b.groups[name].self - a.groups[name].self);
    const children = us(b.groups[name].children - a.groups[name].children);
    out.groups[name] = {
      self, children,
      selfSys: us(b.groups[name].selfSys - a.groups[name].selfSys),
      childrenSys: us(b.groups[name].childrenSys - a.groups[name].childrenSys),
    };
    ours += self + children;
  }
  const nodeUs = b.node.user + b.node.system - a.node.user - a.node.system;
  ours += nodeUs;
  const busy = us(b.machine.busy - a.machine.busy);
  out.machineBusyUs = busy;
  out.wallUs = Number(b.t - a.t) / 1000;
  out.busyPct = (100 * (b.machine.busy - a.machine.busy)) / Math.max(1, b.machine.total - a.machine.total);
  out.iowaitPct = (100 * (b.machine.iowait - a.machine.iowait)) / Math.max(1, b.machine.total - a.machine.total);
  out.otherUs = Math.max(0, busy - ours);
  out.nodeUs = nodeUs;
  return out;
}

// ------------------------------------------------------------ MariaDB

// The server's default durability (innodb_flush_log_at_trx_commit = 1,
// doublewrite; no binary log, as by default) and a buffer pool that holds
// the tables; the rest as tests/lib/mariadb.mjs starts it.
const DB_ARGS = [
  '--innodb-buffer-pool-size=256M',
  '--innodb-log-file-size=256M',
  '--max-connections=200',
];

async function dbStatus(db) {
  const rows = await db.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_data_fsyncs', "
    + "'Innodb_log_writes', 'Com_commit', 'Innodb_data_written', 'Innodb_os_log_written')");
  const out = {};
  for (const r of rows) out[r.Variable_name] = Number(r.Value);
  return out;
}

const statusDelta = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] || 0)]));

// ------------------------------------------------------------- lighttpd

async function startLighttpd(dir, conf, port) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'lighttpd.conf');
  fs.writeFileSync(file, conf);
  const { child } = await startServer(need('lighttpd'), ['-D', '-f', file], {
    port, what: 'lighttpd', env: { PATH: env.PATH }, log: () => tail(path.join(dir, 'error.log')),
  });
  return { child, pid: child.pid, port, errorlog: path.join(dir, 'error.log'), close: () => terminate(child, { timeout: 10000 }) };
}

const keepAlive = ['server.max-keep-alive-requests = 1000000', 'server.max-keep-alive-idle = 60', ''].join('\n');

function fastcgiConf({ dir, port, socket }) {
  const q = (s) => JSON.stringify(s);
  const docroot = path.join(dir, 'htdocs');
  fs.mkdirSync(docroot, { recursive: true });
  return [
    'server.modules = ( "mod_fastcgi" )',
    `server.document-root = ${q(docroot)}`, 'server.bind = "127.0.0.1"', `server.port = ${port}`,
    `server.upload-dirs = ( ${q(dir)} )`, `server.errorlog = ${q(path.join(dir, 'error.log'))}`,
    `fastcgi.server = ( "/clerksync" => (( "socket" => ${q(socket)}, "check-local" => "disable" )) )`,
    keepAlive,
  ].join('\n');
}

function cgiConf({ dir, port, script }) {
  const q = (s) => JSON.stringify(s);
  const docroot = path.join(dir, 'htdocs');
  fs.mkdirSync(docroot, { recursive: true });
  return [
    'server.modules = ( "mod_alias", "mod_cgi" )',
    `server.document-root = ${q(docroot)}`, 'server.bind = "127.0.0.1"', `server.port = ${port}`,
    `server.upload-dirs = ( ${q(dir)} )`, `server.errorlog = ${q(path.join(dir, 'error.log'))}`,
    `alias.url = ( "/clerksync" => ${q(script)} )`,
    'cgi.assign = ( ".fcgi" => "" )', keepAlive,
  ].join('\n');
}

function tail(file, n = 15) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------ wrk

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

// Replay set at concurrency conc against url; pids: CPU groups to sample.
async function replay({ set, conc, url, dir, groups }) {
  const reqDir = path.join(dir, 'req');
  const outDir = path.join(dir, 'res');
  fs.mkdirSync(reqDir, { recursive: true });
  fs.mkdirSync(outDir, { recursive: true });
  const u = new URL(url);
  const parts = Array.from({ length: conc }, () => []);
  set.events.forEach((ev, i) => {
    const raw = httpRequest(ev, { host: u.host, path: u.pathname });
    parts[i % conc].push(Buffer.from(`${raw.length}\n`), raw);
  });
  parts.forEach((p, k) => fs.writeFileSync(path.join(reqDir, `req.${k}`), Buffer.concat(p)));

  const before = snapshot(groups);
  const wrkOut = fs.openSync(path.join(dir, 'wrk.out'), 'w');
  const wrk = spawnTracked(need('wrk'), ['-t', String(conc), '-c', String(conc), '-d', '3600s', '--timeout', '30s',
    '-s', path.join(here, 'replay.lua'), url, '--', reqDir, outDir], { stdio: ['ignore', wrkOut, wrkOut], detached: true });
  fs.closeSync(wrkOut);
  let dead = false;
  exited(wrk).then(() => {
    dead = true;
  });
  const limit = Date.now() + Math.max(120000, set.events.length * 20);
  const doneFiles = () => fs.readdirSync(outDir).filter((f) => /^res\.\d+$/.test(f)).length;
  while (doneFiles() < conc) {
    if (dead) throw new Error(`wrk exited early:\n${tail(path.join(dir, 'wrk.out'))}`);
    if (Date.now() > limit) {
      await terminate(wrk);
      throw new Error(`replay did not finish in time (${doneFiles()} of ${conc} connections done)`);
    }
    await sleep(20);
  }
  const wrkCpu = procTimes(wrk.pid).self;
  const after = snapshot(groups);
  process.kill(wrk.pid, 'SIGINT');
  await Promise.race([exited(wrk), sleep(5000)]);
  await terminate(wrk);

  const lats = [];
  const ends = [];
  const statuses = {};
  const outcomes = {};
  let first = Infinity;
  let lastFirst = 0;
  let firstLast = Infinity;
  let last = 0;
  for (let k = 0; k < conc; k++) {
    const lines = fs.readFileSync(path.join(outDir, `res.${k}`), 'utf8').trim().split('\n');
    const [f0, l0] = lines[0].split(' ').map(Number);
    first = Math.min(first, f0);
    lastFirst = Math.max(lastFirst, f0);
    firstLast = Math.min(firstLast, l0);
    last = Math.max(last, l0);
    for (const line of lines.slice(1)) {
      const p = line.split(' ');
      if (p[0] === 's') statuses[p[1]] = (statuses[p[1]] || 0) + Number(p[2]);
      else if (p[0] === 'o') outcomes[p[1]] = (outcomes[p[1]] || 0) + Number(p[2]);
      else {
        lats.push(Number(p[0]));
        ends.push(Number(p[1]));
      }
    }
  }
  lats.sort((a, b) => a - b);
  const n = lats.length;
  const secs = (last - first) / 1e6;
  // While every connection was busy: after the last one started sending and
  // before the first one finished.
  const steadySecs = (firstLast - lastFirst) / 1e6;
  const steadyN = ends.filter((t) => t > lastFirst && t <= firstLast).length;
  const non2xx = Object.entries(statuses).filter(([s]) => !/^2/.test(s)).reduce((a, [, v]) => a + v, 0);
  const cpu = cpuDelta(before, after);
  cpu.groups.wrk = { self: (wrkCpu * 1e6) / TICK, children: 0 };
  cpu.otherUs = Math.max(0, cpu.otherUs - cpu.groups.wrk.self);
  return {
    conc, events: n, seconds: secs, eventsPerS: n / secs,
    steadyEventsPerS: steadySecs > 0.2 * secs ? steadyN / steadySecs : null,
    rampMs: (lastFirst - first) / 1000,
    p50: pct(lats, 0.5), p99: pct(lats, 0.99), max: lats[n - 1], statuses, outcomes, non2xx, cpu,
  };
}

// ---------------------------------------------------------------- checks

// The rows of one set: events rows, users rows, and each user's final
// state (newest updated_at wins; a delete is terminal and clears email).
async function checkSet(db, set) {
  const want = new Map();
  for (const ev of set.events) {
    const r = ev.row;
    const w = want.get(r.objectId) || { upd: -1, deleted: false };
    if (r.del) w.deleted = true;
    else {
      const upd = Number(r.cols[14]);
      if (upd > w.upd) {
        w.upd = upd;
        w.email = r.cols[0];
      }
    }
    want.set(r.objectId, w);
  }
  const tag = set.tag;
  const [ev] = await db.query(`SELECT COUNT(*) AS n, SUM(outcome = 'stale') AS stale FROM clerk_webhook_events WHERE svix_id LIKE 'msg\\_${tag}%'`);
  const users = await db.query(`SELECT clerk_id, email, clerk_updated_at, deleted_at FROM users WHERE clerk_id LIKE 'user\\_${tag}%'`);
  let wrong = 0;
  for (const u of users) {
    const w = want.get(u.clerk_id);
    if (!w) wrong++;
    else if (w.deleted ? u.deleted_at === null || u.email !== null
      : u.deleted_at !== null || Number(u.clerk_updated_at) !== w.upd || u.email !== w.email) wrong++;
  }
  const res = { events: Number(ev.n), stale: Number(ev.stale || 0), users: users.length, wrongRows: wrong };
  const ok = res.events === set.events.length && res.users === want.size && wrong === 0;
  if (!ok) fail(`${tag}: tables hold ${res.events}/${set.events.length} events rows, ${res.users}/${want.size} users, ${wrong} users in the wrong state`);
  return res;
}

// -------------------------------------------------------------- phases

// A shared machine: a run during which other processes used more than
// NOISE CPUs is done again with new events (up to ATTEMPTS runs); the
// quietest run is kept and reported.
const ATTEMPTS = Math.max(1, int(env.BENCH_ATTEMPTS, QUICK ? 1 : 3));
const NOISE = 0.1;

async function best(label, run) {
  let keep = null;
  const seen = [];
  for (let k = 0; k < ATTEMPTS; k++) {
    const r = await run(k);
    r.noiseCpus = r.cpu.otherUs / r.cpu.wallUs;
    seen.push(Number(r.noiseCpus.toFixed(3)));
    if (!keep || r.noiseCpus < keep.noiseCpus) keep = r;
    if (r.noiseCpus <= NOISE) break;
    if (k + 1 < ATTEMPTS) log(`    other processes used ${fmt(r.noiseCpus, 2)} CPUs during ${label}: once more with new events`);
  }
  keep.noiseByAttempt = seen;
  if (seen.length > 1) log(`    ${label}: kept the run with the least interference (${fmt(keep.noiseCpus, 2)} CPUs of other processes)`);
  return keep;
}

async function runCeiling({ ceiling, db, dir, set, threads, mariadbPid }) {
  const file = path.join(dir, `ceiling.${set.tag}`);
  fs.writeFileSync(file, Buffer.concat(set.events.map(ceilingRecord)));
  const groups = { mariadbd: [mariadbPid] };
  const c0 = snapshot(groups);
  const s0 = await dbStatus(db);
  const out = execFileSync(ceiling, [db.socket, db.user, db.database, String(threads), file], {
    env: { ...env, CEILING_DB_PASSWORD: db.password }, stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
  const c1 = snapshot(groups);
  const ce = JSON.parse(out);
  ce.db = statusDelta(s0, await dbStatus(db));
  ce.cpu = cpuDelta(c0, c1);
  ce.cpu.otherUs = Math.max(0, ce.cpu.otherUs - ce.cpu_us); // the ceiling itself is ours
  ce.tables = await checkSet(db, set);
  ce.mariadbdUsPerEvent = ce.cpu.groups.mariadbd.self / ce.events;
  log(`  ceiling c=${threads} (Connector/C, same SQL): ${fmt(ce.events_per_s)} events/s (${fmt(ce.events)} in ${fmt(ce.seconds, 2)} s), `
    + `p50 ${fmt(ce.p50_us / 1000, 2)} ms, p99 ${fmt(ce.p99_us / 1000, 2)} ms, errors ${ce.outcomes.error}`);
  log(`    outcomes ${JSON.stringify(ce.outcomes)}; CPU µs/event: ceiling client ${fmt(ce.cpu_us / ce.events, 1)}, `
    + `mariadbd ${fmt(ce.mariadbdUsPerEvent, 1)}, other processes ${fmt(ce.cpu.otherUs / ce.events, 1)} `
    + `(${fmt(ce.cpu.otherUs / ce.cpu.wallUs, 2)} CPUs); `
    + `machine busy ${fmt(ce.cpu.busyPct, 0)} %, iowait ${fmt(ce.cpu.iowaitPct, 0)} %`);
  const d = ce.db;
  log(`    MariaDB: ${fmt(d.Com_commit / ce.events, 2)} commits/event, `
    + `${fmt(d.Innodb_data_fsyncs / ce.events, 2)} fsyncs/event, ${fmt(d.Innodb_log_writes / ce.events, 2)} log writes/event`);
  if (ce.outcomes.error) fail(`ceiling c=${threads}: ${ce.outcomes.error} errors, first: ${ce.first_error}`);
  return ce;
}

function newSet(tag, n, secret) {
  return signSet(makeSet({ tag, n }), secret);
}

function backendsOf(pid, exe) {
  return childPids(pid).filter((p) => {
    try {
      return fs.realpathSync(`/proc/${p}/exe`) === exe;
    } catch {
      return false;
    }
  });
}

function printRun(title, r, extra = '') {
  log(`  ${title}: ${fmt(r.eventsPerS)} events/s (${fmt(r.events)} in ${fmt(r.seconds, 2)} s${r.steadyEventsPerS ? `; all ${r.conc} busy: ${fmt(r.steadyEventsPerS)}/s` : ''}), `
    + `p50 ${fmt(r.p50 / 1000, 2)} ms, p99 ${fmt(r.p99 / 1000, 2)} ms, non-2xx ${r.non2xx}${extra}`);
  log(`    outcomes ${JSON.stringify(r.outcomes)}, statuses ${JSON.stringify(r.statuses)}`);
}

function perEvent(r, name, which = 'self') {
  const g = r.cpu.groups[name];
  return g ? g[which] / r.events : null;
}

function printCpu(r, names) {
  const parts = names.map(([label, name, which]) => {
    const sys = perEvent(r, name, which === 'children' ? 'childrenSys' : 'selfSys');
    return `${label} ${fmt(perEvent(r, name, which), 1)}${sys === null || Number.isNaN(sys) ? '' : ` (sys ${fmt(sys, 1)})`}`;
  });
  log(`    CPU µs/event: ${parts.join(', ')}, other processes ${fmt(r.cpu.otherUs / r.events, 1)} `
    + `(${fmt(r.cpu.otherUs / r.cpu.wallUs, 2)} CPUs); `
    + `machine busy ${fmt(r.cpu.busyPct, 0)} % of ${os.cpus().length} CPUs, iowait ${fmt(r.cpu.iowaitPct, 0)} %`);
  if (r.db) {
    const d = r.db;
    const fs1 = d.Innodb_data_fsyncs;
    log(`    MariaDB: ${fmt(d.Com_commit / r.events, 2)} commits/event, ${fmt(fs1 / r.events, 2)} fsyncs/event `
      + `(${fmt(fs1 / r.seconds)} /s), ${fmt(d.Innodb_log_writes / r.events, 2)} log writes/event, `
      + `${fmt(d.Innodb_os_log_written / r.events)} log bytes/event`);
  }
}

const started = Date.now();

async function main() {
  if (!fs.existsSync(bin)) throw new Error(`${bin} not found: run make first`);
  const mach = machine();
  const git = (args) => {
    try {
      return execFileSync('git', ['-C', root, ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return '?';
    }
  };
  mach.commit = git(['rev-parse', '--short', 'HEAD']);
  mach.srcDirty = git(['status', '--porcelain', '--', 'src', 'schema', 'Makefile']) !== '';
  log(`clerksync bench: N=${N}${QUICK ? ' (quick)' : ''}, CGI ${CGI_N}, callgrind M=${M}, binary ${path.relative(root, bin)}, `
    + `commit ${mach.commit}${mach.srcDirty ? ' (src/ modified)' : ''}`);
  log(`machine: ${mach.nproc} x ${mach.cpu}, ${fmt(mach.memGiB, 1)} GiB, ${mach.os}, kernel ${mach.kernel}`);
  const quiet = await waitQuiet();
  log(`load average ${quiet.load} after waiting ${quiet.waited} s: ${quiet.quiet ? 'quiet' : 'NOT quiet (figures may be low)'}`);

  const dir = tmpDir('clerksync-bench-');
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  const summary = { date: new Date().toISOString(), n: N, cgiN: CGI_N, m: M, quick: QUICK, machine: mach, quietBefore: quiet, dbArgs: DB_ARGS };
  let db = null;
  const servers = [];
  try {
    // ceiling binary
    const ceiling = path.join(dir, 'ceiling');
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libmariadb']).toString().trim().split(/\s+/);
    execFileSync(env.CC || 'cc', ['-O2', '-std=c11', '-Wall', '-Wextra', '-o', ceiling, path.join(here, 'ceiling.c'), ...flags, '-lpthread'],
      { stdio: 'inherit' });

    db = new MariaDB({ dir: path.join(dir, 'db'), serverArgs: DB_ARGS });
    await db.start();
    await db.createDatabase({ schemaDir: path.join(root, 'schema') });
    const [v] = await db.query('SELECT VERSION() AS v, @@innodb_flush_log_at_trx_commit AS f, @@innodb_buffer_pool_size AS bp, @@innodb_flush_method AS fm, @@innodb_doublewrite AS dw, @@log_bin AS lb');
    summary.mariadb = { version: v.v, flushLogAtTrxCommit: Number(v.f), bufferPoolMiB: Number(v.bp) / 1048576, flushMethod: v.fm, doublewrite: Number(v.dw), logBin: Number(v.lb) };
    log(`MariaDB ${v.v}: innodb_flush_log_at_trx_commit=${v.f}, buffer pool ${Number(v.bp) / 1048576} MiB, flush method ${v.fm}, doublewrite ${v.dw}, log_bin ${v.lb}; ${mach.lighttpd}; ${mach.wrk}`);

    const secret = newSecret();
    const conf = writeConfig(path.join(dir, 'clerksync.conf'), {
      signing_secret: secret, db_socket: db.socket, db_user: db.user, db_password: db.password,
      db_name: db.database, log_file: path.join(dir, 'clerksync.log'),
    });
    const mariadbPid = db.child.pid;
    summary.fsync = fsyncProbe(db.dir);
    log(`fdatasync of 16 KiB beside the datadir: p50 ${fmt(summary.fsync.p50 / 1000, 2)} ms, p99 ${fmt(summary.fsync.p99 / 1000, 2)} ms `
      + `(one serial committer: at most ${fmt(1e6 / summary.fsync.p50)} commits/s)`);

    // 1. the ceiling's SQL is the binary's SQL
    {
      const glog = path.join(dir, 'general.log');
      await db.query(`SET GLOBAL log_output = 'FILE', GLOBAL general_log_file = ${JSON.stringify(glog)}, GLOBAL general_log = 1`);
      const set = makeSet({ tag: 'chk', n: 64 });
      const u = set.events.find((e) => e.type === 'user.updated');
      const stale = { ...u, id: u.id.replace(/^msg_chk/, 'msg_chs') };
      const del = set.events.find((e) => e.type === 'user.deleted');
      const cre = set.events.find((e) => e.type === 'user.created');
      const drv = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: conf }, dir });
      const seq = signSet({ events: [cre, u, stale, del] }, secret).events;
      const got = [];
      for (const ev of seq) {
        const r = await drv.send({ headers: ev.headers, body: ev.body });
        got.push(r.json && (r.json.status || r.json.error));
      }
      await db.query('SET GLOBAL general_log = 0');
      await db.query("DELETE FROM clerk_webhook_events WHERE svix_id LIKE 'msg\\_ch%'");
      await db.query("DELETE FROM users WHERE clerk_id LIKE 'user\\_chk%'");
      const prepared = new Set();
      for (const line of fs.readFileSync(glog, 'utf8').split('\n')) {
        const m = line.match(/\d+\s+Prepare\s+(.*)$/);
        if (m) prepared.add(m[1].trim());
      }
      const mine = execFileSync(ceiling, ['--print-sql']).toString().trim().split('\n');
      const missing = mine.filter((s) => !prepared.has(s));
      summary.sqlCheck = { outcomes: got, statements: mine.length, missing: missing.length };
      if (got.join() !== 'applied,applied,stale,applied') fail(`SQL check: the binary answered ${got.join(', ')}`);
      if (missing.length) {
        fail(`bench/ceiling.c has drifted from src/store.c: ${missing.length} statement(s) not prepared by the binary`);
        for (const s of missing) log(`    ${s.slice(0, 160)}...`);
      } else log(`SQL check: the ${mine.length} statements of bench/ceiling.c are those the binary prepares`);
    }

    // lighttpd and procs FastCGI processes, warmed up: every process
    // connected, its statements prepared. lighttpd spawns up to 4 itself
    // (its max-procs starts no more here); more are forked by spawn-fcgi
    // on one shared socket, as with nginx.
    const fastcgiServer = async (procs, tag) => {
      const port = await freePort();
      const ldir = path.join(dir, `lighttpd-${tag}`);
      fs.mkdirSync(ldir, { recursive: true });
      let srv;
      let fcgi;
      if (procs <= 4) {
        const text = lighttpdConf({ dir: ldir, port, bin, config: conf, maxProcs: procs, errorlog: path.join(ldir, 'error.log') }) + keepAlive;
        srv = await startLighttpd(ldir, text, port);
        servers.push(srv);
        await waitFor(() => backendsOf(srv.pid, fs.realpathSync(bin)).length === procs, { what: `${procs} FastCGI processes` });
        fcgi = backendsOf(srv.pid, fs.realpathSync(bin));
      } else {
        const sock = path.join(ldir, 'clerksync.sock');
        const pidfile = path.join(ldir, 'spawn-fcgi.pids');
        execFileSync(need('spawn-fcgi'), ['-s', sock, '-M', '0600', '-F', String(procs), '-P', pidfile, '--', bin],
          { env: { PATH: env.PATH, CLERKSYNC_CONFIG: conf }, stdio: 'ignore' });
        fcgi = fs.readFileSync(pidfile, 'utf8').trim().split(/\s+/).map(Number);
        for (const pid of fcgi) track(pid);
        servers.push({ close: async () => { for (const pid of fcgi) await terminate(pid); } });
        srv = await startLighttpd(ldir, fastcgiConf({ dir: ldir, port, socket: sock }), port);
        servers.push(srv);
        if (fcgi.length !== procs) fail(`spawn-fcgi started ${fcgi.length} processes, not ${procs}`);
      }
      const url = `http://127.0.0.1:${port}/clerksync`;
      const groups = { fcgi, lighttpd: [srv.pid], mariadbd: [mariadbPid] };
      log(`\nFastCGI: lighttpd ${srv.pid}, clerksync processes ${fcgi.join(', ')}`);
      const warm = newSet(`w${procs}p`, 100 * procs, secret);
      const w = await replay({ set: warm, conc: Math.max(8, procs), url, dir: path.join(dir, `run-w${tag}`), groups });
      if (w.non2xx) fail(`warm-up: ${w.non2xx} non-2xx: ${JSON.stringify(w.statuses)}\n${tail(path.join(dir, 'clerksync.log'))}`);
      return { srv, fcgi, url, groups };
    };

    // N new events through a FastCGI server at concurrency conc, checked
    const fcgiRun = async (what, tag, conc, url, groups) => {
      const set = newSet(tag, N, secret);
      const st0 = await dbStatus(db);
      const r = await replay({ set, conc, url, dir: path.join(dir, `run-${tag}`), groups });
      r.db = statusDelta(st0, await dbStatus(db));
      printRun(what, r);
      printCpu(r, [['clerksync', 'fcgi'], ['lighttpd', 'lighttpd'], ['mariadbd', 'mariadbd'], ['wrk', 'wrk']]);
      r.tables = await checkSet(db, set);
      if (r.non2xx) fail(`${what}: ${r.non2xx} non-2xx answers`);
      return r;
    };

    // 2-4. FastCGI
    {
      const { srv, fcgi, url, groups } = await fastcgiServer(2, 'fcgi');
      summary.rssAfterWarmup = fcgi.map(procStatus);

      summary.bodySizes = sizes(makeSet({ tag: 'siz', n: N }));
      log(`events: ${Object.entries(summary.bodySizes).map(([k, z]) => `${z.n} ${k} (${z.min}-${z.max} B, median ${z.median})`).join(', ')}`);
      const r8 = await best('FastCGI c=8', (k) => fcgiRun('FastCGI c=8', `f8${k}`, 8, url, groups));
      summary.fcgi8 = r8;

      // 3. ceiling, same concurrency, same database; then with 2
      // connections, as many as the receiver's 2 processes hold
      const ce = await best('ceiling c=8', (k) => runCeiling({ ceiling, db, dir, set: newSet(`ce${k}`, N, secret), threads: 8, mariadbPid }));
      summary.ceiling2 = await best('ceiling c=2', (k) => runCeiling({ ceiling, db, dir, set: newSet(`cd${k}`, Math.round(N / 2), secret), threads: 2, mariadbPid }));
      summary.ceiling = ce;
      summary.ratio = r8.eventsPerS / ce.events_per_s;
      log(`  receiver / ceiling at c=8: ${fmt(100 * summary.ratio, 1)} %`);

      // 4. c=32
      summary.fcgi32 = await best('FastCGI c=32', (k) => fcgiRun('FastCGI c=32', `f3${k}`, 32, url, groups));

      summary.rss = fcgi.map((pid) => ({ pid, ...procStatus(pid) }));
      log(`  RSS per FastCGI process: ${summary.rss.map((s) => `${fmt(s.VmRSS / 1024, 1)} MiB (peak ${fmt(s.VmHWM / 1024, 1)})`).join(', ')}`);
      await srv.close();
      servers.pop();
    }

    // 4b. FastCGI with as many processes as the ceiling's connections:
    // the same concurrency on both sides of the ratio
    {
      const { srv, fcgi, url, groups } = await fastcgiServer(8, 'fcgi8p');
      const what = 'FastCGI 8 processes c=8';
      summary.fcgi8p = await best(what, (k) => fcgiRun(what, `p8${k}`, 8, url, groups));
      summary.rss8p = fcgi.map((pid) => procStatus(pid).VmRSS).reduce((a, b) => a + b, 0);
      summary.ratio8p = summary.fcgi8p.eventsPerS / summary.ceiling.events_per_s;
      log(`  receiver (8 processes) / ceiling (8 connections): ${fmt(100 * summary.ratio8p, 1)} %; RSS of the 8 processes ${fmt(summary.rss8p / 1024, 1)} MiB`);
      await srv.close();
      servers.pop();
      await servers.pop().close();
    }

    // 5. CGI, the binary given and, if built (make static), the static one
    const cgiRun = async (what, exe, tag, { tarball } = {}) => {
      const port = await freePort();
      const ldir = path.join(dir, `lighttpd-${tag}`);
      let cdir = path.join(dir, tag);
      fs.mkdirSync(cdir, { recursive: true });
      if (tarball) {
        execFileSync('tar', ['-C', cdir, '-xzf', tarball]);
        cdir = path.join(cdir, 'clerksync');
      } else {
        fs.copyFileSync(exe, path.join(cdir, 'clerksync.fcgi'));
      }
      const script = path.join(cdir, 'clerksync.fcgi');
      fs.chmodSync(script, 0o755);
      fs.copyFileSync(conf, path.join(cdir, 'clerksync.conf')); // beside the binary, as on shared hosting
      const srv = await startLighttpd(ldir, cgiConf({ dir: ldir, port, script }), port);
      servers.push(srv);
      const url = `http://127.0.0.1:${port}/clerksync`;
      const groups = { lighttpd: [srv.pid], mariadbd: [mariadbPid] };
      log('');
      const r = await best(what, async (k) => {
        const set = newSet(`${tag[0]}g${k}`, CGI_N, secret);
        const st = await dbStatus(db);
        const x = await replay({ set, conc: 8, url, dir: path.join(dir, `run-${tag}${k}`), groups });
        x.db = statusDelta(st, await dbStatus(db));
        printRun(what, x);
        printCpu(x, [['clerksync processes', 'lighttpd', 'children'], ['lighttpd', 'lighttpd'], ['mariadbd', 'mariadbd'], ['wrk', 'wrk']]);
        x.tables = await checkSet(db, set);
        if (x.non2xx) fail(`${what}: ${x.non2xx} non-2xx answers\n${tail(path.join(dir, 'clerksync.log'))}`);
        return x;
      });
      await srv.close();
      servers.pop();
      return r;
    };
    summary.cgi = await cgiRun('CGI c=8', bin, 'cgi');
    if (fs.existsSync(staticBin)) summary.cgiStatic = await cgiRun('CGI static build c=8', staticBin, 'static');
    else log(`(no ${staticBin}: make static builds it for the static CGI run)`);
    if (releaseTar) summary.cgiRelease = await cgiRun('CGI release (launcher + bundled loader) c=8', null, 'release', { tarball: releaseTar });
    else log('(no dist/*.tar.gz: make release builds it for the release CGI run)');

    // 6. one FastCGI process under callgrind, then under strace -c
    const single = async (tag, wrap, m) => {
      const sock = path.join(dir, `${tag}.sock`);
      const plog = fs.openSync(path.join(dir, `${tag}.log`), 'w');
      const proc = spawnTracked(need('spawn-fcgi'), ['-n', '-s', sock, '-M', '0600', '--', ...wrap, bin],
        { env: { PATH: env.PATH, CLERKSYNC_CONFIG: conf }, stdio: ['ignore', plog, plog], detached: true });
      fs.closeSync(plog);
      await waitFor(() => fs.existsSync(sock), { what: 'spawn-fcgi socket' });
      const port = await freePort();
      const ldir = path.join(dir, `lighttpd-${tag}`);
      const srv = await startLighttpd(ldir, fastcgiConf({ dir: ldir, port, socket: sock }), port);
      servers.push(srv);
      const set = newSet(tag, m, secret);
      const r = await replay({ set, conc: 1, url: `http://127.0.0.1:${port}/clerksync`, dir: path.join(dir, `run-${tag}`), groups: {} });
      await srv.close();
      servers.pop();
      // the clerksync process itself (strace's child, or valgrind's pid)
      const kids = childPids(proc.pid);
      for (const pid of kids.length ? kids : [proc.pid]) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {}
      }
      await Promise.race([exited(proc), sleep(60000)]);
      await terminate(proc);
      if (r.non2xx) fail(`${tag} run: ${r.non2xx} non-2xx answers`);
      await checkSet(db, set);
      return r;
    };
    {
      const out = path.join(dir, 'callgrind.out');
      const r = await single('vgd', [need('valgrind'), '--tool=callgrind', `--callgrind-out-file=${out}`], M);
      summary.callgrind = callgrind(out, M, r);
      summary.callgrindCgi = callgrindCgi({ dir, conf, secret });
      if (KEEP) {
        fs.mkdirSync(KEEP, { recursive: true });
        fs.writeFileSync(path.join(KEEP, 'callgrind.cgi.inclusive.txt'), summary.callgrindCgi.inclusiveText);
        for (const f of ['callgrind.out', 'callgrind.cgi.out', 'clerksync.log', 'vgd.log']) {
          if (fs.existsSync(path.join(dir, f))) fs.copyFileSync(path.join(dir, f), path.join(KEEP, f));
        }
        fs.writeFileSync(path.join(KEEP, 'callgrind.inclusive.txt'), summary.callgrind.inclusiveText);
        fs.writeFileSync(path.join(KEEP, 'callgrind.self.txt'), summary.callgrind.selfText);
      }
    }
    if (which('strace')) {
      const out = path.join(dir, 'strace.out');
      const r = await single('str', [need('strace'), '-c', '-f', '-o', out], M);
      summary.syscalls = straceCounts(out, r.events);
      if (KEEP) fs.copyFileSync(out, path.join(KEEP, 'strace.out'));
    }
    const [row] = await db.query('SELECT (SELECT COUNT(*) FROM users) AS u, (SELECT COUNT(*) FROM clerk_webhook_events) AS e');
    summary.tablesAtEnd = { users: Number(row.u), events: Number(row.e) };
  } finally {
    for (const s of servers.reverse()) await s.close().catch(() => {});
    if (db) await db.stop().catch(() => {});
  }
  summary.loadAfter = loadavg();
  summary.elapsedS = Math.round((Date.now() - started) / 1000);
  report(summary);
  if (KEEP) {
    fs.mkdirSync(KEEP, { recursive: true });
    const strip = (o) => o && Object.fromEntries(Object.entries(o).filter(([k]) => !/Text$/.test(k)));
    fs.writeFileSync(path.join(KEEP, 'summary.json'),
      JSON.stringify({ ...summary, callgrind: strip(summary.callgrind), callgrindCgi: strip(summary.callgrindCgi) }, null, 2) + '\n');
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

// --------------------------------------------------------------- callgrind

function annotate(file) {
  const run = (inclusive) => execFileSync(need('callgrind_annotate'), [`--inclusive=${inclusive ? 'yes' : 'no'}`, '--threshold=99.9', file],
    { maxBuffer: 64 << 20 }).toString();
  // "1,234 (12.3%)  file:function [object]": function names, with the
  // object's base name where it is not the binary; one row per function.
  const parse = (text) => {
    const rows = [];
    const seen = new Set();
    let total = null;
    for (const line of text.split('\n')) {
      const mm = line.match(/^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*?)\s*$/);
      if (!mm || !mm[2]) continue;
      const ir = Number(mm[1].replace(/,/g, ''));
      if (/PROGRAM TOTALS/.test(mm[2])) {
        total = ir;
        continue;
      }
      const p = mm[2].match(/^(?:([^\s[]*):)?([^\s[]+)(?: \[(.+)\])?$/);
      if (!p) continue;
      const fn = p[2];
      const o = p[3] ? path.basename(p[3]) : '';
      const obj = o === path.basename(bin) || o === 'clerksync.fcgi' ? '' : o;
      if (/^\(below main\)|^__libc_start|^_dl_start|^_start$/.test(fn) || (/^0x/.test(fn) && obj.startsWith('ld-linux'))) continue;
      const key = `${fn}|${obj}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({ ir, fn, obj, name: obj ? `${fn} (${obj})` : fn });
    }
    return { total, rows };
  };
  const incText = run(true);
  const selfText = run(false);
  return { inc: parse(incText), self: parse(selfText), incText, selfText };
}

function callgrind(file, m, run) {
  const { inc, self, incText, selfText } = annotate(file);
  const per = (name) => {
    const r = inc.rows.find((x) => x.fn === name);
    return r ? r.ir / m : null;
  };
  const pick = ['main', 'handler_serve', 'http_accept', 'http_read', 'http_reply', 'http_finish', 'sig_verify', 'event_parse',
    'json_validate', 'cJSON_ParseWithLength', 'json_member', 'json_members', 'store_apply', 'log_info', 'maybe_prune', 'configure'];
  const loop = ['handler_serve', 'http_accept', 'http_finish', 'maybe_prune'].reduce((a, f) => a + (per(f) || 0), 0);
  return {
    events: m, p50: run.p50, eventsPerS: run.eventsPerS, totalIr: inc.total, irPerEvent: inc.total / m, loopIrPerEvent: loop,
    byFunction: Object.fromEntries(pick.map((p) => [p, per(p)])),
    topInclusive: inc.rows.slice(0, 30).map((r) => ({ fn: r.name, irPerEvent: r.ir / m, pct: (100 * r.ir) / inc.total })),
    topSelf: self.rows.slice(0, 20).map((r) => ({ fn: r.name, irPerEvent: r.ir / m, pct: (100 * r.ir) / self.total })),
    inclusiveText: incText, selfText,
  };
}

// One CGI request under callgrind: where a CGI process's instructions go.
function callgrindCgi({ dir, conf, secret }) {
  const set = newSet('vgc', 64, secret);
  const ev = set.events[0];
  const out = path.join(dir, 'callgrind.cgi.out');
  const r = spawnSync(need('valgrind'), ['--tool=callgrind', `--callgrind-out-file=${out}`, bin], {
    env: { PATH: env.PATH, CLERKSYNC_CONFIG: conf, ...cgiEnv({ headers: ev.headers, body: ev.body }) },
    input: ev.body, maxBuffer: 16 << 20,
  });
  const answer = r.stdout.toString();
  if (!/"status":"applied"/.test(answer)) fail(`CGI under callgrind answered: ${answer.slice(0, 200)} ${r.stderr.toString().slice(-400)}`);
  const { inc, self, incText, selfText } = annotate(out);
  return {
    totalIr: inc.total,
    topInclusive: inc.rows.slice(0, 25).map((x) => ({ fn: x.name, ir: x.ir, pct: (100 * x.ir) / inc.total })),
    topSelf: self.rows.slice(0, 12).map((x) => ({ fn: x.name, ir: x.ir, pct: (100 * x.ir) / self.total })),
    inclusiveText: incText, selfText,
  };
}

// strace -c -f: system calls per event, by name (start-up included).
function straceCounts(file, m) {
  const byName = {};
  let total = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length < 5 || !/^\d/.test(p[0]) || p[p.length - 1] === 'total') continue;
    const calls = Number(p[3]);
    const name = p[p.length - 1];
    if (!Number.isFinite(calls)) continue;
    byName[name] = calls / m;
    total += calls;
  }
  const top = Object.entries(byName).sort((a, b) => b[1] - a[1]).slice(0, 12);
  return { events: m, perEvent: total / m, top: Object.fromEntries(top.map(([k, v]) => [k, Number(v.toFixed(2))])) };
}

// fdatasync of 16 KiB writes in the database's directory: what one
// durable commit costs this disk at the least.
function fsyncProbe(dir, n = 200) {
  const file = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(16384, 7);
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fs.writeSync(fd, buf, 0, buf.length, (i % 64) * buf.length);
    fs.fdatasyncSync(fd);
    lat.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  fs.closeSync(fd);
  fs.rmSync(file);
  lat.sort((a, b) => a - b);
  return { n, p50: pct(lat, 0.5), p99: pct(lat, 0.99), mean: lat.reduce((a, b) => a + b, 0) / n };
}

// ------------------------------------------------------------------ report

function report(s) {
  const ok = (cond) => (cond ? 'ok' : 'MISSED');
  const r8 = s.fcgi8;
  const r32 = s.fcgi32;
  const ce = s.ceiling;
  const cg = s.callgrind;
  log('\n==================================================================== summary');
  log(`machine: ${s.machine.nproc} x ${s.machine.cpu}, ${fmt(s.machine.memGiB, 1)} GiB; load before ${s.quietBefore.load} (${s.quietBefore.quiet ? 'quiet' : 'NOT quiet'}), after ${s.loadAfter}`);
  const noise = (x) => (x ? `${fmt(x.noiseCpus, 2)} (runs: ${x.noiseByAttempt.join(', ')})` : '-');
  log(`CPUs used by other processes during the kept runs: FastCGI c=8 ${noise(r8)}, ceiling c=8 ${noise(ce)}, c=2 ${noise(s.ceiling2)}, `
    + `FastCGI c=32 ${noise(r32)}, FastCGI 8 processes ${noise(s.fcgi8p)}, CGI ${noise(s.cgi)}, CGI static ${noise(s.cgiStatic)}, CGI release ${noise(s.cgiRelease)}`);
  if (r8) {
    const cpu8 = perEvent(r8, 'fcgi');
    const maxRss = Math.max(...s.rss.map((x) => x.VmRSS));
    log(`FastCGI c=8   ${fmt(r8.eventsPerS).padStart(7)} events/s  p50 ${fmt(r8.p50 / 1000, 2)} ms  p99 ${fmt(r8.p99 / 1000, 2)} ms  non-2xx ${r8.non2xx}   target >= ${fmt(TARGETS.fcgi8)}: ${ok(r8.eventsPerS >= TARGETS.fcgi8)}`);
    log(`FastCGI c=32  ${fmt(r32.eventsPerS).padStart(7)} events/s  p50 ${fmt(r32.p50 / 1000, 2)} ms  p99 ${fmt(r32.p99 / 1000, 2)} ms  non-2xx ${r32.non2xx}`);
    log(`ceiling c=8   ${fmt(ce.events_per_s).padStart(7)} events/s  p50 ${fmt(ce.p50_us / 1000, 2)} ms  p99 ${fmt(ce.p99_us / 1000, 2)} ms  errors ${ce.outcomes.error}`);
    const c2 = s.ceiling2;
    log(`ceiling c=2   ${fmt(c2.events_per_s).padStart(7)} events/s  p50 ${fmt(c2.p50_us / 1000, 2)} ms  p99 ${fmt(c2.p99_us / 1000, 2)} ms  errors ${c2.outcomes.error}   (2 connections, as the receiver's 2 processes)`);
    log(`receiver/ceiling ${fmt(100 * s.ratio, 1)} %   target >= ${100 * TARGETS.ratio} %: ${ok(s.ratio >= TARGETS.ratio)}   `
      + `(receiver c=8 / ceiling c=2: ${fmt((100 * r8.eventsPerS) / c2.events_per_s, 1)} %)`);
    log(`server CPU (clerksync processes) ${fmt(cpu8, 1)} µs/event at c=8, ${fmt(perEvent(r32, 'fcgi'), 1)} at c=32   target <= ${TARGETS.cpu}: ${ok(cpu8 <= TARGETS.cpu)}`);
    log(`RSS per FastCGI process ${s.rss.map((x) => `${fmt(x.VmRSS / 1024, 2)} MiB`).join(', ')}   target <= 8 MiB: ${ok(maxRss <= TARGETS.rssKiB)}`);
  }
  if (s.fcgi8p) {
    const p = s.fcgi8p;
    log(`FastCGI 8 processes c=8 ${fmt(p.eventsPerS).padStart(7)} events/s  p50 ${fmt(p.p50 / 1000, 2)} ms  p99 ${fmt(p.p99 / 1000, 2)} ms  non-2xx ${p.non2xx}  `
      + `${fmt(perEvent(p, 'fcgi'), 1)} µs clerksync CPU/event  ${fmt(s.rss8p / 1024, 1)} MiB RSS in all`);
    log(`receiver (8 processes) / ceiling (8 connections) ${fmt(100 * s.ratio8p, 1)} %   target >= ${100 * TARGETS.ratio} %: ${ok(s.ratio8p >= TARGETS.ratio)}`);
  }
  for (const [name, c] of [['CGI c=8       ', s.cgi], ['CGI static c=8 ', s.cgiStatic], ['CGI release c=8', s.cgiRelease]]) {
    if (c) log(`${name} ${fmt(c.eventsPerS).padStart(7)} events/s  p50 ${fmt(c.p50 / 1000, 2)} ms  p99 ${fmt(c.p99 / 1000, 2)} ms  non-2xx ${c.non2xx}  `
      + `${fmt(perEvent(c, 'lighttpd', 'children'), 0)} µs CPU/event in the CGI processes   target >= ${fmt(TARGETS.cgi)}: ${ok(c.eventsPerS >= TARGETS.cgi)}`);
  }
  if (cg) {
    log(`callgrind: ${fmt(cg.irPerEvent)} instructions/event in the clerksync process (total Ir ${fmt(cg.totalIr)} / ${cg.events}, start-up included); `
      + `${fmt(cg.loopIrPerEvent)} in the accept loop (handler_serve + http_accept + http_finish + maybe_prune)`);
    log('  per event, inclusive: ' + Object.entries(cg.byFunction).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${fmt(v)}`).join(', '));
    log('  top functions, inclusive (Ir/event, % of total):');
    for (const r of cg.topInclusive) log(`    ${fmt(r.irPerEvent).padStart(10)}  ${fmt(r.pct, 1).padStart(5)} %  ${r.fn}`);
    log('  top functions, self:');
    for (const r of cg.topSelf) log(`    ${fmt(r.irPerEvent).padStart(10)}  ${fmt(r.pct, 1).padStart(5)} %  ${r.fn}`);
  }
  if (s.syscalls) {
    log(`system calls per event in one FastCGI process (strace -c, ${s.syscalls.events} events): ${fmt(s.syscalls.perEvent, 1)}: `
      + Object.entries(s.syscalls.top).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', '));
  }
  if (s.callgrindCgi) {
    const c = s.callgrindCgi;
    log(`callgrind, one CGI request (process start to exit): ${fmt(c.totalIr)} instructions; top inclusive:`);
    for (const r of c.topInclusive.slice(0, 20)) log(`    ${fmt(r.ir).padStart(10)}  ${fmt(r.pct, 1).padStart(5)} %  ${r.fn}`);
  }
  log(`\nelapsed ${s.elapsedS} s (of which ${s.quietBefore.waited} s waiting for a quiet machine)`);
  log(failures.length ? `${failures.length} check(s) failed:\n  ${failures.join('\n  ')}` : 'all checks passed (rows, final states, no non-2xx)');
}

main().then(
  () => process.exit(failures.length ? 1 : 0),
  (e) => {
    console.error(`bench: ${e.stack || e}`);
    process.exit(2);
  },
);
