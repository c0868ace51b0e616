// Galera smoke test: a private 3-node MariaDB Galera cluster on 127.0.0.1
// (tests/lib/galera.mjs), then the things the receiver will rely on:
// a write on node 1 is read on node 3 (wsrep_sync_wait=1); two transactions
// that update the same row on node 1 and node 2 and commit at the same time
// end with one commit and one ER_LOCK_DEADLOCK (1213), the error the
// receiver retries; a SIGKILLed node rejoins (IST) and sees what was written
// while it was down. TAP on stdout, timings as "# " lines.
//
// usage: node tests/cluster/smoke.mjs
// env:   CLERKSYNC_KEEP_TMP=1 keeps the cluster's temp folder (and logs).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GaleraCluster, galeraMissing, startGalera } from '../lib/galera.mjs';
import mysql from 'mysql2/promise';
import { alive, which } from '../lib/procs.mjs';
import { diag, done, eq, ok } from '../lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(process.env.CLERKSYNC_SRC || path.join(here, '..', '..'));
const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

const missing = galeraMissing();
if (!ok(missing.length === 0, `Galera tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`)) {
  process.exit(done() ? 1 : 0);
}

const brief = (st) => st.map((s) => `${s.name}: ${s.running ? `size ${s.wsrep_cluster_size} ${s.wsrep_local_state_comment} ready ${s.wsrep_ready} cert_failures ${s.wsrep_local_cert_failures} bf_aborts ${s.wsrep_local_bf_aborts}` : 'down'}`).join('; ');

function allSynced(st, size) {
  return st.every((s) => s.running && s.wsrep_cluster_size === size && s.wsrep_local_state_comment === 'Synced' && s.wsrep_ready === 'ON');
}

// Read with a causality wait, on that node's own connection.
async function syncedRead(node, sql, params) {
  await node.query('SET SESSION wsrep_sync_wait = 1');
  return node.query(sql, params);
}

// Two transactions on the same row, on two nodes, committed together:
// which one committed, and the error of the other.
async function conflict(n1, n2, round) {
  const a = await n1.connection();
  const b = await n2.connection();
  try {
    await a.query('BEGIN');
    await a.query('UPDATE smoke SET v = v + 1, who = ? WHERE id = 1', [`node1 round ${round}`]);
    await b.query('BEGIN');
    await b.query('UPDATE smoke SET v = v + 10, who = ? WHERE id = 1', [`node2 round ${round}`]);
    // Rounds 1 and 2: both COMMITs are sent before either answers (node1's
    // first, then node2's first): the later one in the cluster's total
    // order fails certification. Round 3: node2 commits first, then node1:
    // node2's write set, applied on node1, brute-force aborts node1's
    // transaction, whose COMMIT then fails.
    let ra;
    let rb;
    if (round === 1) [ra, rb] = await Promise.allSettled([a.query('COMMIT'), b.query('COMMIT')]);
    else if (round === 2) [rb, ra] = await Promise.allSettled([b.query('COMMIT'), a.query('COMMIT')]);
    else {
      [rb] = await Promise.allSettled([b.query('COMMIT')]);
      [ra] = await Promise.allSettled([a.query('COMMIT')]);
    }
    return { a: ra, b: rb };
  } finally {
    a.destroy();
    b.destroy();
  }
}

const opts = { nodes: 3, schemaDir: path.join(src, 'schema') };
let cluster = new GaleraCluster(opts); // until startGalera returns one
let pids = [];
try {
  const t0 = Date.now();
  cluster = await startGalera(opts);
  const [n1, n2, n3] = cluster.nodes;
  diag(`cluster ${cluster.name} in ${cluster.dir}`);
  diag(`cluster started in ${secs(Date.now() - t0)} (node1 bootstrap ${secs(cluster.timings.bootstrap)}, ` +
    `joins ${secs(cluster.timings.join)}: ${cluster.nodes.slice(1).map((n) => `${n.name} ${n.lastJoin.method} ${secs(n.lastJoin.ms)}`).join(', ')})`);
  diag(cluster.nodes.map((n) => `${n.name}: pid ${n.pid} sql ${n.host}:${n.port} galera ${n.groupPort} ist ${n.istPort} sst ${n.sstPort}`).join('\n'));
  pids = cluster.nodes.map((n) => n.pid);

  let st = await cluster.status();
  ok(allSynced(st, 3), `all 3 nodes Synced, ready, wsrep_cluster_size 3 (${brief(st)})`);
  const tables = await syncedRead(n3, 'SHOW TABLES');
  ok(tables.length >= 3, `schema replicated: node3 has ${tables.map((r) => Object.values(r)[0]).join(', ')}`);

  const app = await mysql.createConnection({ host: n3.host, port: n3.port, user: cluster.user, password: cluster.password, database: cluster.database });
  const [[cnt]] = await app.query('SELECT COUNT(*) AS n FROM users');
  await app.end();
  eq(cnt.n, 0, `the app user (made on node1) logs in on node3 over TCP ${n3.host}:${n3.port} and reads users`);

  // Every listening socket of every node is on 127.0.0.1 (the SQL port and
  // the Galera group port; IST and SST listen only during a transfer).
  if (which('ss')) {
    const lines = execFileSync(which('ss'), ['-Hltnp']).toString().split('\n');
    for (const n of cluster.nodes) {
      const mine = lines.filter((l) => l.includes(`pid=${n.pid},`)).map((l) => l.trim().split(/\s+/)[3]);
      ok(mine.length >= 2 && mine.every((a) => a.startsWith('127.0.0.1:')) && mine.includes(`127.0.0.1:${n.port}`) && mine.includes(`127.0.0.1:${n.groupPort}`),
        `${n.name} listens only on 127.0.0.1 (${mine.join(', ')})`);
    }
  }

  // Replication of a plain write.
  await n1.query('CREATE TABLE smoke (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, who VARCHAR(64) NULL) ENGINE=InnoDB');
  await n1.query('INSERT INTO smoke (id, v) VALUES (1, 0)');
  eq(await syncedRead(n3, 'SELECT id, v FROM smoke ORDER BY id'), [{ id: 1, v: 0 }], 'row inserted on node1 is read on node3 (wsrep_sync_wait=1)');

  // Certification conflict: same row, two nodes, concurrent commits.
  const before = await cluster.status();
  let v = 0;
  for (let round = 1; round <= 3; round++) {
    const r = await conflict(n1, n2, round);
    const fulfilled = [r.a, r.b].filter((x) => x.status === 'fulfilled').length;
    const errs = [r.a, r.b].filter((x) => x.status === 'rejected').map((x) => x.reason);
    ok(fulfilled === 1 && errs.length === 1 && errs[0].errno === 1213,
      `round ${round}: one commit succeeded, the other failed with 1213 ER_LOCK_DEADLOCK ` +
      `(node1: ${r.a.status === 'fulfilled' ? 'committed' : `${r.a.reason.errno} ${r.a.reason.code}`}, ` +
      `node2: ${r.b.status === 'fulfilled' ? 'committed' : `${r.b.reason.errno} ${r.b.reason.code}`})`);
    if (round === 3) ok(r.b.status === 'fulfilled', 'round 3: node2, which committed first, won');
    if (r.a.status === 'fulfilled') v += 1;
    if (r.b.status === 'fulfilled') v += 10;
    const rows = await Promise.all(cluster.nodes.map((n) => syncedRead(n, 'SELECT v FROM smoke WHERE id = 1')));
    eq(rows.map((x) => x[0].v), [v, v, v], `round ${round}: every node has only the winner's update (v = ${v})`);
  }
  const after = await cluster.status();
  const sum = (s, k) => s.reduce((t, x) => t + (x[k] || 0), 0);
  const cert = sum(after, 'wsrep_local_cert_failures') - sum(before, 'wsrep_local_cert_failures');
  const bf = sum(after, 'wsrep_local_bf_aborts') - sum(before, 'wsrep_local_bf_aborts');
  ok(cert + bf >= 3 && bf >= 1, `status() counts the conflicts: ${cert} certification failures, ${bf} brute-force aborts`);

  // SIGKILL node 2, write while it is down, bring it back.
  const pid2 = n2.pid;
  let t = Date.now();
  await n2.kill();
  ok(!alive(pid2) && n2.pid === null, `node2 (pid ${pid2}) SIGKILLed and gone`);
  await cluster.waitSynced({ timeout: 30000 });
  st = await cluster.status();
  diag(`node2 dropped from the cluster view ${secs(Date.now() - t)} after SIGKILL`);
  ok(st[0].wsrep_cluster_size === 2 && st[2].wsrep_cluster_size === 2 && !st[1].running, `node1 and node3 see cluster size 2 (${brief(st)})`);
  await n1.query('INSERT INTO smoke (id, v, who) VALUES (2, 42, ?)', ['written while node2 was down']);
  eq(await syncedRead(n3, 'SELECT v FROM smoke WHERE id = 2'), [{ v: 42 }], 'write on node1 while node2 is down reaches node3');

  t = Date.now();
  await n2.restart();
  const rejoin = Date.now() - t;
  diag(`node2 rejoined by ${n2.lastJoin.method} in ${secs(rejoin)}${n2.recovered ? ` (recovered position ${n2.recovered})` : ''}`);
  st = await cluster.status();
  ok(allSynced(st, 3), `node2 rejoined: all Synced, size 3 (${brief(st)})`);
  ok(n2.pid && n2.pid !== pid2, `node2 runs again with a new pid (${n2.pid})`);
  eq(await syncedRead(n2, 'SELECT id, v, who FROM smoke ORDER BY id'),
    [{ id: 1, v, who: (await n1.query('SELECT who FROM smoke WHERE id = 1'))[0].who }, { id: 2, v: 42, who: 'written while node2 was down' }],
    'node2 sees the write made while it was down');
  await n2.query('INSERT INTO smoke (id, v) VALUES (3, 7)');
  eq(await syncedRead(n1, 'SELECT v FROM smoke WHERE id = 3'), [{ v: 7 }], 'a write on the rejoined node2 reaches node1');

  pids = cluster.nodes.map((n) => n.pid);
  t = Date.now();
  await cluster.stop();
  diag(`cluster stopped in ${secs(Date.now() - t)}`);
  ok(pids.every((p) => !alive(p)), `all nodes stopped (pids ${pids.join(', ')})`);
  ok(process.env.CLERKSYNC_KEEP_TMP || !fs.existsSync(cluster.dir), 'temp folder removed');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
  try {
    diag(`status: ${brief(await cluster.status())}`);
  } catch {}
  await cluster.stop().catch((err) => diag(`stop: ${err.message}`));
}
diag(`smoke took ${secs(Date.now() - started)}`);
process.exitCode = done() ? 1 : 0;
