// Galera node states, one signed delivery each: what a node answers while it
// is not ready, rejects queries, is desynced or is not primary, and what the
// receiver makes of it. A private 2-node cluster (tests/lib/galera.mjs); the
// binary runs as CGI (a new connection per request) with db_host = node 1
// alone, or node 1 then node 2, and as FastCGI (spawn-fcgi: one connection
// kept across requests) with node 1 then node 2.
//
//   wsrep_reject_queries = ALL   node 1 answers 1047 "WSREP has not yet
//                                prepared node for application use", as a
//                                joining node does: alone, 503 unavailable
//                                and nothing written; with node 2 after it,
//                                node 1 is skipped (Synced and ready, but
//                                rejecting) and the FastCGI process that was
//                                on node 1 moves to node 2 on the next
//                                request
//   wsrep_reject_queries = ALL_KILL  the kept connection is killed (1927 or
//                                2013): the next request moves to node 2
//   wsrep_desync = ON            node 1 still writes (alone: applied), but
//                                with node 2 after it, node 1 is skipped;
//                                both desynced: node 1 is used all the same
//   partitioned (gmcast.isolate) node 1 not primary (a node left without
//                                quorum), node 2 primary: 1205 (the
//                                session's wsrep_sync_wait) or 1047; alone,
//                                503 and nothing written; a kept connection
//                                moves to node 2
//   joining (node 1 restarted)   deliveries meet it down, half up or
//                                receiving what it missed: never a 500, and
//                                with node 2 after it, always applied
//
// usage: node tests/cluster/states.mjs   (CLERKSYNC_BIN: the binary)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { cgiDriver, fcgiDriver } from '../lib/drivers.mjs';
import { startGalera, galeraMissing } from '../lib/galera.mjs';
import { onCleanup, sleep, tmpDir, which } from '../lib/procs.mjs';
import { newMsgId, newSecret, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok } from '../lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

const missing = [...galeraMissing(), ...['spawn-fcgi', 'cgi-fcgi'].filter((t) => !which(t))];
if (!ok(missing.length === 0, `tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`) ||
    !ok(fs.existsSync(bin), `binary built: ${bin}`)) {
  process.exit(done() ? 1 : 0);
}

const dir = tmpDir('clerksync-states-');
if (!process.env.CLERKSYNC_KEEP_TMP) onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
const secret = newSecret();
let cluster;
const fcgis = [];
let seq = 0;

// A driver with its own config and log; hosts: the nodes of db_host, in order.
function config(name, hosts) {
  const log = path.join(dir, `${name}.log`);
  const file = writeConfig(path.join(dir, `${name}.conf`), {
    signing_secret: secret,
    db_host: hosts.map((n) => `127.0.0.1:${n.port}`).join(' '),
    db_user: cluster.user,
    db_password: cluster.password,
    db_name: cluster.database,
    log_file: log,
  });
  return { file, log };
}

function cgi(name, hosts) {
  const c = config(name, hosts);
  const drv = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: c.file }, dir });
  return { ...drv, log: c.log, name };
}

async function fcgi(name, hosts) {
  const c = config(name, hosts);
  const drv = await fcgiDriver({ bin, env: { CLERKSYNC_CONFIG: c.file }, dir, name });
  fcgis.push(drv);
  return { ...drv, send: drv.send.bind(drv), log: c.log, name };
}

const logText = (d) => (fs.existsSync(d.log) ? fs.readFileSync(d.log, 'utf8') : '');

// One signed user.created for a new user (or, with type, an event of a type
// clerksync ignores); its answer, ids and what the driver logged for it.
async function deliver(drv, type = 'user.created') {
  const id = `user_states${process.pid}x${++seq}`;
  const svixId = newMsgId();
  const now = Date.now();
  const body = JSON.stringify({ type, timestamp: now, data: { id, object: 'user', created_at: now, updated_at: now, email_addresses: [], first_name: 'Ada' } });
  const before = logText(drv).length;
  const res = await drv.send({ headers: signedHeaders(secret, body, { id: svixId }), body });
  const word = res.json && (res.json.status || res.json.error);
  return { status: res.status, word, id, svixId, log: logText(drv).slice(before) };
}

// What node wrote for these deliveries: users rows and events rows.
async function written(node, ds) {
  const c = await node.connection();
  try {
    await c.query('SET SESSION wsrep_sync_wait = 1');
    const ids = ds.map((d) => d.id);
    const [u] = await c.query('SELECT COUNT(*) AS n FROM users WHERE clerk_id IN (?)', [ids]);
    const [e] = await c.query('SELECT COUNT(*) AS n FROM clerk_webhook_events WHERE svix_id IN (?)', [ds.map((d) => d.svixId)]);
    return Number(u[0].n) + Number(e[0].n);
  } finally {
    c.end().catch(() => c.destroy());
  }
}

async function setGlobal(node, sql) {
  const c = await node.connection(null);
  try {
    await c.query(sql);
  } finally {
    c.end().catch(() => c.destroy());
  }
}

async function waitStatus(node, pred, what, timeout = 120000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await node.wsrepStatus().catch((e) => ({ error: e.message }));
    if (pred(last)) return last;
    if (Date.now() > end) throw new Error(`${node.name}: not ${what} after ${timeout / 1000} s: ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

const show = (d) => `${d.status} ${d.word}`;

// A FastCGI process prunes old events after its first request, once the
// answer is out, on its database connection. An event of an ignored type
// sent next is answered only after that pruning is over (one request at a
// time), so that what the test does to the node next meets the process
// idle, not its pruning.
async function settle(drv) {
  const x = await deliver(drv, 'session.created');
  if (x.status !== 200 || x.word !== 'ignored') throw new Error(`${drv.name}: an ignored event answered ${show(x)}`);
}
const applied = (d) => d.status === 200 && d.word === 'applied';
const unavailable = (d) => d.status === 503 && d.word === 'unavailable';
// The log says node was skipped, and what it showed (a part of it).
const skipped = (d, node, what) => d.log.split('\n').some((l) => l.includes(`database: 127.0.0.1:${node.port} is not synced (`) && l.includes(what));
const used = (d, node) => d.log.includes(`the hosts before 127.0.0.1:${node.port} are down or not synced, using it`);
const moved = (d) => /not synced|down or not synced/.test(d.log);
// The first database error logged for the delivery (final or retried; not
// the pruning a FastCGI process does after a request).
const codeOf = (d) => {
  for (const l of d.log.split('\n')) {
    const m = !/ prune: /.test(l) && l.match(/\b(?:execute|prepare[^:]*|commit|connect[^:]*): (\d+) /);
    if (m) return m[1];
  }
  return 'none';
};

try {
  const t0 = Date.now();
  cluster = await startGalera({ nodes: 2, schemaDir: path.join(src, 'schema') });
  const [n1, n2] = cluster.nodes;
  diag(`cluster of 2 started in ${secs(Date.now() - t0)}: ports ${n1.port}, ${n2.port}`);
  const alone = cgi('alone', [n1]);
  const both = cgi('both', [n1, n2]);
  let kept = await fcgi('kept', [n1, n2]);

  // --- Healthy: every driver applies on node 1.
  let d = await deliver(alone);
  ok(applied(d), `healthy, node 1 alone: applied (${show(d)})`);
  d = await deliver(both);
  ok(applied(d) && !moved(d), `healthy, node 1 then node 2: applied on node 1 (${show(d)})`);
  d = await deliver(kept);
  ok(applied(d) && !moved(d), `healthy, FastCGI: applied, its connection on node 1 (${show(d)})`);
  await settle(kept);

  // --- wsrep_reject_queries = ALL: 1047 on node 1.
  await setGlobal(n1, 'SET GLOBAL wsrep_reject_queries = ALL');
  const st = await n1.wsrepStatus();
  diag(`node 1 with wsrep_reject_queries = ALL: ${st.wsrep_local_state_comment}, wsrep_ready ${st.wsrep_ready}`);
  const lost = [];
  d = await deliver(alone);
  lost.push(d);
  ok(unavailable(d), `reject_queries ALL, node 1 alone: 503 unavailable (${show(d)})`);
  eq(codeOf(d), '1047', 'reject_queries ALL, node 1 alone: the logged error is 1047');
  d = await deliver(both);
  ok(applied(d), `reject_queries ALL, node 1 then node 2: applied (${show(d)})`);
  ok(skipped(d, n1, 'wsrep_reject_queries ALL)') && used(d, n2), 'reject_queries ALL, node 1 then node 2: node 1 skipped, node 2 used (log)');
  d = await deliver(kept);
  ok(applied(d), `reject_queries ALL, FastCGI connected to node 1: applied (${show(d)})`);
  ok(codeOf(d) === '1047' && skipped(d, n1, 'wsrep_reject_queries ALL)') && used(d, n2),
    `reject_queries ALL, FastCGI: 1047 on its connection to node 1, then node 1 skipped, node 2 used (log; error ${codeOf(d)})`);
  eq(await written(n2, lost), 0, 'reject_queries ALL: the 503 wrote nothing (read on node 2)');
  await setGlobal(n1, 'SET GLOBAL wsrep_reject_queries = NONE');

  // --- wsrep_reject_queries = ALL_KILL: the kept connection is killed.
  await kept.close();
  kept = await fcgi('kept2', [n1, n2]);
  d = await deliver(kept);
  ok(applied(d) && !moved(d), `before ALL_KILL, FastCGI: applied on node 1 (${show(d)})`);
  await settle(kept);
  await setGlobal(n1, 'SET GLOBAL wsrep_reject_queries = ALL_KILL');
  d = await deliver(kept);
  ok(applied(d), `reject_queries ALL_KILL, FastCGI connected to node 1: applied (${show(d)})`);
  // Killed (2013 here, 1927 in other versions), or, if the kill has not
  // reached it yet, rejected (1047): the same way out.
  ok(['1927', '2013', '1047'].includes(codeOf(d)) && skipped(d, n1, 'wsrep_reject_queries ALL_KILL') && used(d, n2),
    `reject_queries ALL_KILL, FastCGI: its connection killed (error ${codeOf(d)}), node 1 skipped, node 2 used (log)`);
  d = await deliver(alone);
  ok(unavailable(d), `reject_queries ALL_KILL, node 1 alone: 503 unavailable (${show(d)}, error ${codeOf(d)})`);
  eq(await written(n2, [d]), 0, 'reject_queries ALL_KILL: the 503 wrote nothing (read on node 2)');
  await setGlobal(n1, 'SET GLOBAL wsrep_reject_queries = NONE');

  // --- wsrep_desync = ON: Donor/Desynced, still writes.
  await setGlobal(n1, 'SET GLOBAL wsrep_desync = ON');
  await waitStatus(n1, (s) => s.wsrep_local_state_comment === 'Donor/Desynced', 'Donor/Desynced');
  d = await deliver(alone);
  ok(applied(d), `desynced, node 1 alone: applied (a desynced node still writes) (${show(d)})`);
  d = await deliver(both);
  ok(applied(d) && skipped(d, n1, 'wsrep_local_state 2, wsrep_ready ON') && used(d, n2),
    `desynced, node 1 then node 2: node 1 skipped, applied on node 2 (${show(d)})`);
  await setGlobal(n2, 'SET GLOBAL wsrep_desync = ON');
  await waitStatus(n2, (s) => s.wsrep_local_state_comment === 'Donor/Desynced', 'Donor/Desynced');
  d = await deliver(both);
  ok(applied(d) && d.log.includes(`no host is synced, using 127.0.0.1:${n1.port}`),
    `both desynced: the first host used all the same, applied (${show(d)})`);
  await setGlobal(n1, 'SET GLOBAL wsrep_desync = OFF');
  await setGlobal(n2, 'SET GLOBAL wsrep_desync = OFF');
  await cluster.waitSynced();

  // --- Partitioned: node 1 cut off (gmcast.isolate), node 2 primary alone
  // (its weight 2 of 3). The FastCGI process's first request is applied on
  // node 1, and its connection kept (an ignored event does not connect).
  await kept.close();
  kept = await fcgi('kept3', [n1, n2]);
  d = await deliver(kept);
  ok(applied(d) && !moved(d), `before the partition, FastCGI: applied, connected to node 1 (${show(d)})`);
  await settle(kept);
  await setGlobal(n2, "SET GLOBAL wsrep_provider_options = 'pc.weight=2'");
  await setGlobal(n1, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'");
  const iso = await waitStatus(n1, (s) => s.wsrep_cluster_status && s.wsrep_cluster_status !== 'Primary', 'non-Primary');
  await waitStatus(n2, (s) => s.wsrep_cluster_status === 'Primary' && s.wsrep_cluster_size === 1 && s.wsrep_ready === 'ON', 'Primary alone');
  diag(`node 1 cut off: ${iso.wsrep_cluster_status}, ${iso.wsrep_local_state_comment}, wsrep_ready ${iso.wsrep_ready}; node 2 Primary, size 1`);
  const isoLost = [];
  d = await deliver(alone);
  isoLost.push(d);
  ok(unavailable(d), `partitioned, node 1 alone: 503 unavailable (${show(d)}, error ${codeOf(d)})`);
  ok(['1047', '1205'].includes(codeOf(d)), `partitioned, node 1 alone: the logged error is 1047 or 1205 (${codeOf(d)})`);
  // The events INSERT, prepared by the first request, now fails on node 1
  // with 1047 (had it still to be prepared, the session's wsrep_sync_wait
  // would fail first: 1205, a 503 error that a node in the primary
  // component also gives for a lock wait, after which node 1 is asked
  // whether it is synced). Either way the request goes on on node 2.
  d = await deliver(kept);
  ok(applied(d), `partitioned, FastCGI connected to node 1: applied (${show(d)})`);
  ok((codeOf(d) === '1047' || (codeOf(d) === '1205' &&
    /database: the node is not synced \(wsrep_local_state 0, wsrep_ready OFF/.test(d.log))) &&
    /connecting again/.test(d.log) && skipped(d, n1, 'wsrep_ready OFF') && used(d, n2),
    `partitioned, FastCGI: error ${codeOf(d)} on its connection to node 1, connecting again, node 1 skipped, node 2 used (log)`);
  ok(!/ error: svix_id=/.test(d.log), 'partitioned, FastCGI: the applied delivery logs no error line (the retried one is logged as such)');
  d = await deliver(both);
  ok(applied(d) && skipped(d, n1, 'wsrep_ready OFF') && used(d, n2), `partitioned, node 1 then node 2: applied on node 2 (${show(d)})`);
  eq(await written(n2, isoLost), 0, 'partitioned: the 503 wrote nothing (read on node 2)');

  // --- Joining: node 1 (cut off) is killed and started again while
  // deliveries go to it; it rejoins node 2 by IST. It is down (2002), then
  // accepts connections before it is ready (2013 in the handshake; 1047
  // while it receives the writes it missed), then Synced. Which of these a
  // delivery meets depends on timing: every answer must be 200 applied or
  // 503 unavailable whatever it meets, and with node 2 after node 1 in
  // db_host, always applied.
  await n1.kill('SIGKILL');
  const joinSeen = { alone: [], both: [] };
  let joining = true;
  const hammer = async (drv) => {
    while (joining) {
      joinSeen[drv.name].push(await deliver(drv));
      await sleep(10);
    }
  };
  const hammers = [hammer(alone), hammer(both)];
  try {
    await n1.restart();
  } finally {
    joining = false;
    await Promise.all(hammers);
  }
  const label = (x) => `${show(x)}${codeOf(x) !== 'none' ? ` (${codeOf(x)})` : ''}`;
  const tally = (ds) => Object.entries(ds.reduce((m, x) => ((m[label(x)] = (m[label(x)] || 0) + 1), m), {}))
    .map(([k, v]) => `${v} ${k}`).join(', ');
  diag(`node 1 rejoined (${n1.lastJoin.method}) in ${secs(n1.lastJoin.ms)}; node 1 alone answered: ${tally(joinSeen.alone)}; ` +
    `node 1 then node 2: ${tally(joinSeen.both)}`);
  ok(joinSeen.alone.length > 0 && joinSeen.alone.every((x) => applied(x) || unavailable(x)),
    `joining, node 1 alone: every answer applied or 503 unavailable (${joinSeen.alone.length} deliveries)`);
  ok(joinSeen.both.length > 0 && joinSeen.both.every(applied),
    `joining, node 1 then node 2: every delivery applied (${joinSeen.both.length} deliveries)`);
  eq(await written(n2, joinSeen.alone.filter(unavailable)), 0, 'joining: the 503s wrote nothing (read on node 2)');
  d = await deliver(alone);
  ok(applied(d), `node 1 Synced again, alone: applied (${show(d)})`);

  const all = [alone, both, ...['kept', 'kept2', 'kept3'].map((k) => ({ log: path.join(dir, `${k}.log`) }))].map(logText).join('');
  ok(!/status=500/.test(all), 'no request answered 500 (every log)');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  for (const f of fcgis) await f.close().catch(() => {});
  if (cluster) await cluster.stop().catch(() => {});
}
diag(`states test took ${secs(Date.now() - started)}`);
process.exitCode = done() ? 1 : 0;
