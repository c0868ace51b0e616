// A private MariaDB Galera cluster for the tests: N nodes (3 by default) on
// 127.0.0.1 in one temp folder, each node in its own sub-folder (datadir,
// socket, pid file, error log, my.cnf). Node 1 is made with
// mariadb-install-db and bootstrapped (--wsrep-new-cluster); the others start
// with an empty datadir and get a full copy from a synced node by rsync SST.
// A node that was killed and is started again runs `mariadbd --wsrep-recover`
// first (as mysqld_safe does), so it rejoins by IST from the donor's gcache
// when it can, and falls back to SST otherwise.
//
//   const cluster = new GaleraCluster({ nodes: 3, schemaDir });
//   await cluster.start();                  // all Synced, size 3
//   const [n1, n2, n3] = cluster.nodes;     // port, socket, host, pid, query()
//   await n2.kill();                        // SIGKILL, wait until gone
//   await n2.restart();                     // rejoin, Synced, size back to 3
//   await cluster.status();                 // per node wsrep counters
//   await cluster.stop();                   // clean shutdown, temp folder gone
//
// Needs mariadbd, mariadb-install-db, the mariadb client, the galera-4
// provider and rsync (with ss or lsof, which wsrep_sst_rsync uses to watch its
// port); Debian's mariadb-server package depends on all of them.
// CLERKSYNC_KEEP_TMP=1 keeps the temp folder; GALERA_PROVIDER overrides the
// provider path.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { MariaDB } from './mariadb.mjs';
import { diag } from './tap.mjs';
import { alive, descendants, exited, freePort, need, onCleanup, sleep, spawnTracked, terminate, tmpDir, which } from './procs.mjs';

const isRoot = process.getuid && process.getuid() === 0;

// As root, the nodes run as the `mysql` system user, not --user=root: the
// joiner's rsync daemon (wsrep_sst_rsync) is started by mariadbd and, run
// as root, switches to `nobody`, which then cannot write the root-owned
// datadir (SST fails with "mkdir ... Permission denied"). Run as mysql, it
// keeps that uid. Not root: everything runs as the current user.
export function serverUser() {
  if (!isRoot) return null;
  try {
    for (const l of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = l.split(':');
      if (f[0] === 'mysql') return { name: 'mysql', uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {}
  return null;
}

const PROVIDERS = [
  '/usr/lib/galera/libgalera_smm.so',
  '/usr/lib/libgalera_smm.so',
  '/usr/lib/galera-4/libgalera_smm.so',
  '/usr/lib64/galera-4/libgalera_smm.so',
  '/usr/lib64/galera/libgalera_smm.so',
];

// The Galera provider library, or null.
export function galeraProvider() {
  if (process.env.GALERA_PROVIDER) return fs.existsSync(process.env.GALERA_PROVIDER) ? process.env.GALERA_PROVIDER : null;
  return PROVIDERS.find((p) => fs.existsSync(p)) || null;
}

// What a cluster needs that this machine lacks (empty when all is there).
export function galeraMissing() {
  const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'rsync', 'wsrep_sst_rsync'].filter((t) => !which(t));
  if (!which('ss') && !which('lsof')) missing.push('ss or lsof');
  if (!galeraProvider()) missing.push('libgalera_smm.so (galera-4)');
  return missing;
}

// Small nodes: 2 cores shared by three servers and the test.
export const GALERA_SERVER_ARGS = [
  'innodb_buffer_pool_size=48M',
  'innodb_log_file_size=16M',
  'innodb_flush_log_at_trx_commit=2',
  'max_connections=60',
  'performance_schema=OFF',
];

const STATUS_VARS = [
  'wsrep_cluster_size',
  'wsrep_cluster_status',
  'wsrep_local_state_comment',
  'wsrep_ready',
  'wsrep_connected',
  'wsrep_local_cert_failures',
  'wsrep_local_bf_aborts',
  'wsrep_last_committed',
];

const NUMERIC = new Set(['wsrep_cluster_size', 'wsrep_local_cert_failures', 'wsrep_local_bf_aborts', 'wsrep_last_committed']);

// A timer that does not keep the process alive.
const idle = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// Free ports, each found by freePort. Ports outside the kernel's ephemeral
// range (32768-60999 here) cannot be taken meanwhile by an outgoing
// connection (Galera's own, mysql2's): prefer a random one below it. (Another
// test on the machine may still pick the same one at the same time: see
// startGalera.)
export async function pickPorts(n) {
  const out = new Set();
  while (out.size < n) {
    const p = await freePort(10000 + crypto.randomInt(22000));
    out.add(p);
  }
  return [...out];
}

export class GaleraNode extends MariaDB {
  constructor({ cluster, index, dir, ports, ...opts }) {
    super({ dir, port: ports.sql, serverArgs: [], ...opts });
    this.cluster = cluster;
    this.index = index;
    this.name = `node${index + 1}`;
    this.host = '127.0.0.1';
    this.groupPort = ports.group;
    this.istPort = ports.ist;
    this.sstPort = ports.sst;
    this.cnf = path.join(dir, 'my.cnf');
    this.lastJoin = null; // { method: 'SST' | 'IST' | 'none' | 'bootstrap', ms }
    this.recovered = null; // the position --wsrep-recover found at the last start
    this.expectRunning = false;
  }

  get pid() {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : null;
  }

  get running() {
    return this.pid !== null && alive(this.pid);
  }

  writeConfig() {
    const c = this.cluster;
    const provider = [
      `gmcast.listen_addr=tcp://127.0.0.1:${this.groupPort}`,
      `ist.recv_addr=127.0.0.1:${this.istPort}`,
      `gcache.size=${c.gcacheSize}`,
      'gcache.recover=yes',
      // A SIGKILLed node drops its TCP links at once; these shorten how long
      // the others wait before they drop it from the view (defaults 5 s/15 s),
      // still well above what a busy 2-core machine needs.
      `evs.suspect_timeout=${c.suspectTimeout}`,
      `evs.inactive_timeout=${c.inactiveTimeout}`,
      'evs.inactive_check_period=PT0.5S',
      'evs.keepalive_period=PT0.5S',
      ...c.providerOptions,
    ].join(';');
    const lines = [
      '[mysqld]',
      `datadir=${this.datadir}`,
      `socket=${this.socket}`,
      `port=${this.port}`,
      'bind-address=127.0.0.1',
      `pid-file=${this.pidFile}`,
      `log-error=${this.errorLog}`,
      `tmpdir=${this.dir}`,
      'skip-name-resolve',
      'skip-log-bin',
      ...(c.runUser ? [`user=${c.runUser.name}`] : []),
      ...c.serverArgs,
      'character-set-server=utf8mb4',
      'collation-server=utf8mb4_unicode_ci',
      ...(this.timeZone ? [`default-time-zone=${this.timeZone}`] : []),
      // Required by Galera.
      'binlog_format=ROW',
      'default_storage_engine=InnoDB',
      'innodb_autoinc_lock_mode=2',
      'wsrep_on=ON',
      `wsrep_provider=${c.provider}`,
      `wsrep_cluster_name=${c.name}`,
      `wsrep_cluster_address=gcomm://${c.nodes.map((n) => `127.0.0.1:${n.groupPort}`).join(',')}`,
      `wsrep_node_name=${this.name}`,
      `wsrep_node_address=127.0.0.1:${this.groupPort}`,
      `wsrep_node_incoming_address=127.0.0.1:${this.port}`,
      'wsrep_sst_method=rsync',
      `wsrep_sst_receive_address=127.0.0.1:${this.sstPort}`,
      `wsrep_provider_options="${provider}"`,
      `wsrep_slave_threads=${c.slaveThreads}`,
      '',
      '[sst]',
      // No progress meter (pv) in the error log.
      'progress=0',
      '',
    ];
    fs.writeFileSync(this.cnf, lines.join('\n'));
  }

  // mariadb-install-db (no config read, so wsrep off): the system tables,
  // root over the socket without a password. Its temporary tables go to the
  // node's own folder: in the shared /tmp, one vanished under a busy machine
  // ("Could not remove temporary table", then "Unknown table
  // 'mysql.tmp_user_sys'" and the install aborted).
  install() {
    fs.mkdirSync(this.datadir, { recursive: true });
    const args = [
      '--no-defaults',
      `--datadir=${this.datadir}`,
      `--tmpdir=${this.dir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ];
    if (this.cluster.runUser) args.push(`--user=${this.cluster.runUser.name}`);
    try {
      execFileSync(need('mariadb-install-db'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new Error(`${this.name}: mariadb-install-db failed: ${e.stderr || e.message}`);
    }
  }

  // The node's folder and datadir belong to the server's user.
  prepareDir() {
    fs.mkdirSync(this.datadir, { recursive: true });
    const u = this.cluster.runUser;
    if (u) for (const d of [this.dir, this.datadir]) fs.chownSync(d, u.uid, u.gid);
  }

  // A fresh root connection over the socket (database: the cluster's, or
  // none with database=null).
  connection(database = this.database) {
    return this.rootConnection(database || undefined);
  }

  async wsrepStatus() {
    const c = await this.rootConnection();
    try {
      const [rows] = await c.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS_VARS.map((v) => mysql.escape(v)).join(',')})`);
      const o = {};
      for (const r of rows) {
        const k = r.Variable_name.toLowerCase();
        o[k] = NUMERIC.has(k) ? Number(r.Value) : r.Value;
      }
      return o;
    } finally {
      c.end().catch(() => c.destroy());
    }
  }

  // Run `mariadbd --wsrep-recover` on the (stopped) node: the last committed
  // seqno from InnoDB, as uuid:seqno, or null.
  async recoverPosition() {
    const log = path.join(this.dir, 'recover.err');
    fs.rmSync(log, { force: true });
    const child = spawnTracked(need('mariadbd'), [
      `--defaults-file=${this.cnf}`,
      '--wsrep-recover',
      `--log-error=${log}`,
      `--pid-file=${path.join(this.dir, 'recover.pid')}`,
    ], { stdio: 'ignore', detached: true });
    const done = await Promise.race([exited(child).then(() => true), idle(60000).then(() => false)]);
    if (!done) {
      await terminate(child, { timeout: 5000, tree: true });
      throw new Error(`${this.name}: mariadbd --wsrep-recover did not finish`);
    }
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    const m = text.match(/WSREP: Recovered position:\s*([0-9a-f-]{36}:-?\d+)/);
    return m ? m[1] : null;
  }

  // Start mariadbd and wait until it is Synced in a primary component of
  // `size` nodes. bootstrap: --wsrep-new-cluster. A node that has a datadir
  // but was not shut down cleanly gets its position recovered first.
  async start({ bootstrap = false, size, timeout = 120000 } = {}) {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const t0 = Date.now();
    this.writeConfig();
    this.prepareDir();
    const args = [`--defaults-file=${this.cnf}`];
    if (bootstrap) {
      if (!this.initialised) this.install();
      args.push('--wsrep-new-cluster');
    } else {
      this.recovered = null;
      if (this.initialised && !this.cleanState()) {
        const pos = await this.recoverPosition();
        if (pos) args.push(`--wsrep-start-position=${pos}`);
        this.recovered = pos;
      }
    }
    const logStart = fs.existsSync(this.errorLog) ? fs.statSync(this.errorLog).size : 0;
    fs.rmSync(this.socket, { force: true });
    this.child = spawnTracked(need('mariadbd'), args, { stdio: 'ignore', detached: true });
    const child = this.child;
    let dead = false;
    exited(child).then(() => {
      dead = true;
    });
    const end = Date.now() + timeout;
    this.expectRunning = true;
    const want = bootstrap ? 1 : size; // undefined: any size
    let last = null;
    for (;;) {
      if (dead) throw new Error(`${this.name}: mariadbd exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${this.logTail(40)}`);
      if (fs.existsSync(this.socket)) {
        try {
          last = await this.wsrepStatus();
          if (isSynced(last, want)) break;
        } catch (e) {
          last = { error: e.message };
        }
      }
      if (Date.now() > end) {
        throw new Error(`${this.name}: not Synced${want ? ` with cluster size ${want}` : ''} after ${timeout / 1000} s (last status ${JSON.stringify(last)}):\n${this.logTail(40)}`);
      }
      await sleep(100);
    }
    this.lastJoin = { method: bootstrap ? 'bootstrap' : joinMethod(this.readLogFrom(logStart)), ms: Date.now() - t0 };
    return this;
  }

  // grastate.dat says the last shutdown was clean (a real seqno).
  cleanState() {
    try {
      const g = fs.readFileSync(path.join(this.datadir, 'grastate.dat'), 'utf8');
      const m = g.match(/^seqno:\s*(-?\d+)/m);
      return !!m && Number(m[1]) >= 0;
    } catch {
      return false;
    }
  }

  readLogFrom(offset) {
    try {
      const fd = fs.openSync(this.errorLog, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - offset));
        fs.readSync(fd, buf, 0, buf.length, offset);
        return buf.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  dropConnection() {
    if (this.conn) {
      this.conn.destroy();
      this.conn = null;
    }
  }

  async query(sql, params = []) {
    if (!this.running) throw new Error(`${this.name} is not running`);
    return super.query(sql, params);
  }

  // Kill this node's mariadbd (SIGKILL unless told) and wait until it is gone.
  async kill(signal = 'SIGKILL') {
    this.expectRunning = false;
    this.dropConnection();
    const child = this.child;
    if (!child || this.pid === null) return;
    const kids = descendants(child.pid);
    process.kill(child.pid, signal);
    if (signal === 'SIGKILL') for (const k of kids) try { process.kill(k, 'SIGKILL'); } catch {}
    const gone = await Promise.race([exited(child).then(() => true), idle(30000).then(() => false)]);
    if (!gone) throw new Error(`${this.name}: pid ${child.pid} still there 30 s after ${signal}`);
    this.child = null; // its pid may be reused: never signal it again
  }

  // Start it again (after kill() or stop(); a running node is stopped first)
  // and wait until it is Synced and every running node sees the full size.
  async restart({ timeout = 120000 } = {}) {
    if (this.running) await this.stop();
    const t0 = Date.now();
    await this.start({ size: this.cluster.runningCount() + 1, timeout });
    await this.cluster.waitSynced({ timeout: Math.max(10000, timeout - (Date.now() - t0)) });
    this.lastJoin.ms = Date.now() - t0;
    return this;
  }

  // Clean shutdown (SIGTERM; SIGKILL after 60 s), with any SST helper.
  async stop() {
    this.expectRunning = false;
    this.dropConnection();
    if (this.child && this.pid !== null) await terminate(this.child, { timeout: 60000, tree: true });
    this.child = null;
  }
}

// How a joiner got its state, from its error log: 'SST' (full copy by
// rsync), 'IST' (only the missing write sets, from a donor's gcache) or
// 'none' (it was already at the cluster's position).
function joinMethod(log) {
  if (/SST completed on joiner/.test(log)) return 'SST';
  if (/IST completed on joiner|Receiving IST: \d+ writesets|IST received/.test(log)) return 'IST';
  return 'none';
}

async function waitCondition(fn, ms) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(100);
  }
}

function isSynced(s, size) {
  return s && s.wsrep_ready === 'ON' && s.wsrep_local_state_comment === 'Synced' &&
    s.wsrep_cluster_status === 'Primary' && (size === undefined || s.wsrep_cluster_size === size);
}

export class GaleraCluster {
  constructor({
    nodes = 3,
    database = 'clerksync',
    user = 'clerksync',
    password,
    schemaDir,
    serverArgs = GALERA_SERVER_ARGS,
    providerOptions = [],
    gcacheSize = '64M',
    suspectTimeout = 'PT3S',
    inactiveTimeout = 'PT6S',
    slaveThreads = 2,
    join = 'staggered',
    timeZone,
  } = {}) {
    this.count = nodes;
    this.database = database;
    this.user = user;
    this.password = password || crypto.randomBytes(12).toString('hex');
    this.schemaDir = schemaDir;
    this.serverArgs = serverArgs;
    this.providerOptions = providerOptions;
    this.gcacheSize = gcacheSize;
    this.suspectTimeout = suspectTimeout;
    this.inactiveTimeout = inactiveTimeout;
    this.slaveThreads = slaveThreads;
    this.join = join;
    this.timeZone = timeZone;
    this.name = `clerksync-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    this.provider = galeraProvider();
    this.runUser = serverUser();
    this.nodes = [];
    this.dir = null;
    this.timings = {};
  }

  get host() {
    return '127.0.0.1';
  }

  runningCount() {
    return this.nodes.filter((n) => n.running).length;
  }

  async start() {
    const missing = galeraMissing();
    if (isRoot && !this.runUser) missing.push('a `mysql` system user (as root, the nodes run as mysql: see serverUser())');
    if (missing.length) throw new Error(`cannot start a Galera cluster, missing: ${missing.join(', ')}`);
    const t0 = Date.now();
    this.dir = tmpDir('clerksync-gal-');
    const dir = this.dir;
    if (this.runUser) fs.chmodSync(dir, 0o711);
    onCleanup(() => this.killSync(dir));
    const ports = await pickPorts(4 * this.count);
    for (let i = 0; i < this.count; i++) {
      const d = path.join(dir, `n${i + 1}`);
      fs.mkdirSync(d);
      this.nodes.push(new GaleraNode({
        cluster: this,
        index: i,
        dir: d,
        ports: { sql: ports[4 * i], group: ports[4 * i + 1], ist: ports[4 * i + 2], sst: ports[4 * i + 3] },
        database: this.database,
        user: this.user,
        password: this.password,
        timeZone: this.timeZone,
      }));
    }
    const [first, ...rest] = this.nodes;
    await first.start({ bootstrap: true, timeout: 60000 });
    this.timings.bootstrap = Date.now() - t0;
    // The database and user first: the joiners then get them with the SST.
    await first.createDatabase();
    if (this.join === 'parallel') {
      // All joiners at once: their gcomm merges collide and cost seconds.
      await Promise.all(rest.map((n) => n.start({ timeout: 120000 })));
    } else if (this.join === 'staggered') {
      // The next joiner starts once the previous one is in the primary
      // component (node 1 sees it); its SST waits for a free donor.
      const starts = [];
      for (const [i, n] of rest.entries()) {
        starts.push(n.start({ timeout: 120000 }));
        await Promise.race([
          waitCondition(async () => (await first.wsrepStatus().catch(() => ({}))).wsrep_cluster_size >= i + 2, 60000),
          starts[i],
        ]);
      }
      await Promise.all(starts);
    } else {
      for (const n of rest) await n.start({ timeout: 120000 });
    }
    await this.waitSynced({ timeout: 60000 });
    this.timings.join = Date.now() - t0 - this.timings.bootstrap;
    if (this.schemaDir) await this.loadSchema(this.schemaDir);
    this.timings.start = Date.now() - t0;
    return this;
  }

  // Every running node Synced, ready, in a primary component of
  // size = number of running nodes (or the given size).
  async waitSynced({ size, timeout = 60000 } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
      const want = size || this.nodes.filter((n) => n.expectRunning).length;
      last = await this.status();
      const up = last.filter((s) => s.running);
      if (up.length === want && up.every((s) => isSynced(s, want))) return last;
      for (const n of this.nodes) {
        if (n.expectRunning && !n.running) {
          throw new Error(`${n.name} exited unexpectedly (pid ${n.child && n.child.pid}):\n${n.logTail(40)}`);
        }
      }
      if (Date.now() > end) {
        throw new Error(`cluster not Synced with size ${want} after ${timeout / 1000} s: ${JSON.stringify(last)}\n` +
          this.nodes.map((n) => `--- ${n.name} error log:\n${n.logTail(15)}`).join('\n'));
      }
      await sleep(100);
    }
  }

  // Per node: name, running, pid, port and the wsrep status counters
  // (wsrep_cluster_size, wsrep_local_state_comment, wsrep_ready,
  // wsrep_cluster_status, wsrep_local_cert_failures, wsrep_local_bf_aborts,
  // wsrep_last_committed); error when the node did not answer.
  async status() {
    return Promise.all(this.nodes.map(async (n) => {
      const base = { name: n.name, running: n.running, pid: n.pid, port: n.port };
      if (!base.running) return base;
      try {
        return { ...base, ...(await n.wsrepStatus()) };
      } catch (e) {
        return { ...base, error: e.message };
      }
    }));
  }

  // Apply schemaDir/*.sql in name order on node 1 (DDL is replicated in
  // total order), then wait until every running node shows the same tables.
  async loadSchema(schemaDir, appliedFile) {
    const first = this.nodes.find((n) => n.running);
    const files = first.loadSchema(schemaDir, appliedFile);
    await this.waitSameTables();
    return files;
  }

  async waitSameTables({ timeout = 30000 } = {}) {
    const list = async (n) => {
      const c = await n.rootConnection();
      try {
        await c.query('SET SESSION wsrep_sync_wait = 15');
        const [rows] = await c.query(
          'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY 1', [this.database]);
        return rows.map((r) => r.t).join(',');
      } finally {
        c.end().catch(() => c.destroy());
      }
    };
    const up = this.nodes.filter((n) => n.running);
    const end = Date.now() + timeout;
    for (;;) {
      const seen = await Promise.all(up.map((n) => list(n).catch((e) => `error: ${e.message}`)));
      if (seen.every((s) => s === seen[0]) && !seen[0].startsWith('error')) return;
      if (Date.now() > end) throw new Error(`schema not the same on all nodes: ${JSON.stringify(seen)}`);
      await sleep(100);
    }
  }

  // Stop all nodes cleanly, by pid: all but the first running one together,
  // then that one (it leaves last, with safe_to_bootstrap). Then remove the
  // temp folder.
  async stop() {
    const errors = [];
    const running = this.nodes.filter((n) => n.pid !== null);
    await Promise.all(running.slice(1).map((n) => n.stop().catch((e) => errors.push(e))));
    if (running[0]) await running[0].stop().catch((e) => errors.push(e));
    if (this.dir && !process.env.CLERKSYNC_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5 });
    if (errors.length) throw errors[0];
  }

  // For onCleanup (process exit, a failing test): SIGKILL every node and
  // its helpers, remove the folder.
  killSync(dir) {
    for (const n of this.nodes) {
      const pid = n.pid;
      if (!pid || !alive(pid)) continue;
      const kids = descendants(pid);
      try { process.kill(pid, 'SIGKILL'); } catch {}
      for (const k of kids) try { process.kill(k, 'SIGKILL'); } catch {}
    }
    if (!process.env.CLERKSYNC_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

// A started cluster. Its start is the test's fixture, not what it tests: if
// a node cannot start (a port that another test on the machine took between
// pickPorts and the bind; a node that died at start-up on a machine shared
// with other builds and tests), the whole cluster is started again in a new
// folder on new ports, up to 3 times, and each failure is a TAP comment.
export async function startGalera(opts = {}) {
  for (let attempt = 1; ; attempt++) {
    const cluster = new GaleraCluster(opts);
    try {
      await cluster.start();
      return cluster;
    } catch (e) {
      await cluster.stop().catch(() => {});
      if (attempt >= 3) throw e;
      diag(`cluster start failed (attempt ${attempt}), starting again on new ports: ${e.message.split('\n').slice(0, 3).join(' | ')}`);
    }
  }
}
