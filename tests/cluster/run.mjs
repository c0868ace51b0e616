// The cluster test: a private 3-node MariaDB Galera cluster on 127.0.0.1
// (tests/lib/galera.mjs), three web nodes (lighttpd + the FastCGI binary,
// 2 processes each), each pointed at its own database node first and at
// the others after it (db_host with three hosts). The delivery simulator's
// history (users, organizations, memberships; tests/sim/history.mjs) is
// delivered with every attempt sent to a web node picked at random, so one
// user's events and the repeats of one svix-id land on different nodes at
// once. Database node 2 is SIGKILLed a third of the way through and
// restarted a second later, while deliveries go on. Then the tables are checked exactly, as the
// simulator checks them, on every node. Last, figures: events/s through
// one web node and through three, and the conflicts seen.
//
// usage: node tests/cluster/run.mjs [--seed N] [--users U] [--events E]
//          [--throughput N]   (events per throughput run; 0 skips it)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { startLighttpd } from '../lib/drivers.mjs';
import { pickPorts, startGalera, galeraMissing } from '../lib/galera.mjs';
import { postHttp } from '../lib/http.mjs';
import { onCleanup, sleep, tmpDir, which } from '../lib/procs.mjs';
import { newSecret } from '../lib/sign.mjs';
import { diag, done, ok } from '../lib/tap.mjs';
import { deliverAll, Queue } from '../sim/deliver.mjs';
import { generate } from '../sim/history.mjs';
import { verify } from '../sim/verify.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const fixtures = path.join(src, 'tests', 'fixtures', 'clerk');
const started = Date.now();

const opt = { seed: 11, users: 60, events: 8, throughput: 1500 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opt)) throw new Error(`unknown argument ${process.argv[i]}`);
  opt[k] = Number(process.argv[i + 1]);
}

const missing = [...galeraMissing(), ...['lighttpd'].filter((t) => !which(t))];
if (!ok(missing.length === 0, `tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`) ||
    !ok(fs.existsSync(bin), `binary built: ${bin}`)) {
  process.exit(done() ? 1 : 0);
}

const dir = tmpDir('clerksync-cluster-');
if (!process.env.CLERKSYNC_KEEP_TMP) onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
const secret = newSecret();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
let cluster;
const servers = [];

async function resetTables() {
  for (const t of ['users', 'organizations', 'organization_memberships', 'clerk_webhook_events']) {
    await cluster.nodes[0].query(`DELETE FROM ${t}`);
  }
  await cluster.waitSynced();
}

// A lighttpd web node on a port below the ephemeral range. Another test on
// the machine may take the same port at the same moment: then lighttpd exits
// (or another server answered in its place and it exits just after), and it
// is started again on another port.
async function startWeb(webDir, config) {
  for (let attempt = 1; ; attempt++) {
    const [port] = await pickPorts(1);
    let srv = null;
    try {
      srv = await startLighttpd({ dir: webDir, bin, config, port, maxProcs: 2 });
      await sleep(200);
      if (srv.alive) return srv;
      throw new Error(`lighttpd on ${port} exited at start-up`);
    } catch (e) {
      if (srv) await srv.close().catch(() => {});
      if (attempt >= 3) throw e;
      diag(`web node on port ${port}: ${e.message.split('\n')[0]}; again on another port`);
    }
  }
}

function logOf(i) {
  const f = path.join(dir, `clerksync-${i + 1}.log`);
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
}

const count = (re) => servers.reduce((n, _, i) => n + (logOf(i).match(re) || []).length, 0);

async function deliver(hist, pick, { concurrency = 8, during } = {}) {
  const queue = new Queue(hist.plan);
  const records = [];
  const send = (req) => postHttp(servers[pick()].url, req);
  const t = Date.now();
  const running = deliverAll(queue, records, { send, secret, concurrency });
  if (during) await during(queue);
  await running;
  return { records, ms: Date.now() - t, queue };
}

try {
  const t0 = Date.now();
  cluster = await startGalera({ nodes: 3, schemaDir: path.join(src, 'schema') });
  diag(`cluster of 3 started in ${secs(Date.now() - t0)}: ports ${cluster.nodes.map((n) => n.port).join(', ')}`);
  const ports = cluster.nodes.map((n) => n.port);
  for (let i = 0; i < 3; i++) {
    // Its own node first, then the others: tried in order.
    const hosts = [0, 1, 2].map((k) => `127.0.0.1:${ports[(i + k) % 3]}`).join(' ');
    const conf = writeConfig(path.join(dir, `clerksync-${i + 1}.conf`), {
      signing_secret: secret,
      db_host: hosts,
      db_user: cluster.user,
      db_password: cluster.password,
      db_name: cluster.database,
      log_file: path.join(dir, `clerksync-${i + 1}.log`),
    });
    servers.push(await startWeb(path.join(dir, `web-${i + 1}`), conf));
  }
  diag(`web nodes ${servers.map((s) => s.url).join(', ')}`);

  // --- Exactness across nodes, with a node killed and rejoined.
  await resetTables();
  const hist = generate(opt.seed, { users: opt.users, events: opt.events, fixtures });
  const before = await cluster.status();
  let killedAt = 0;
  let rejoinMs = 0;
  const { records, ms } = await deliver(hist, () => Math.floor(Math.random() * 3), {
    during: async (queue) => {
      while (queue.progress < 0.33) await sleep(20);
      await cluster.nodes[1].kill('SIGKILL');
      killedAt = Date.now();
      diag(`node 2 SIGKILLed at ${Math.round(queue.progress * 100)}% of the deliveries`);
      // Down for a while (deliveries go on through the other nodes), then
      // back while they still run.
      await sleep(1000);
      const tr = Date.now();
      const at = Math.round(queue.progress * 100);
      await cluster.nodes[1].restart();
      rejoinMs = Date.now() - tr;
      diag(`node 2 restarted at ${at}% of the deliveries, ${secs(tr - killedAt)} after the kill; rejoined (${(cluster.nodes[1].lastJoin || {}).method || '?'}) in ${secs(rejoinMs)}`);
    },
  });
  ok(killedAt > 0 && rejoinMs > 0, 'node 2 was killed mid-run and rejoined');
  await cluster.waitSynced();
  const after = await cluster.status();
  ok(after.every((s) => s.running && s.wsrep_cluster_size === 3 && s.wsrep_local_state_comment === 'Synced'),
    'all three nodes Synced, cluster size 3');
  const attempts = records.flatMap((r) => r.attempts);
  const non2xx = attempts.filter((a) => a.status < 200 || a.status >= 300);
  diag(`${hist.plan.length} deliveries, ${attempts.length} attempts in ${secs(ms)}; non-2xx: ${non2xx.length} ` +
    `(${[...new Set(non2xx.map((a) => `${a.status} ${a.word}`))].join(', ') || 'none'}); ` +
    `retried deliveries ${records.filter((r) => r.attempts.length > 1).length}`);
  for (const [i, node] of cluster.nodes.entries()) {
    await node.query('SET SESSION wsrep_sync_wait = 1');
    await verify(node, hist, records, { label: `node ${i + 1}`, strict: true });
  }
  const deadlocks = count(/deadlock on /g);
  const failovers = count(/database: the hosts before \S+ are down or not synced, using it/g);
  const skips = count(/database: \S+ is not synced \(/g);
  const certFailures = after.reduce((n, s, i) => n + Number(s.wsrep_local_cert_failures || 0) - Number(before[i].wsrep_local_cert_failures || 0), 0);
  const bfAborts = after.reduce((n, s, i) => n + Number(s.wsrep_local_bf_aborts || 0) - Number(before[i].wsrep_local_bf_aborts || 0), 0);
  diag(`conflicts: ${deadlocks} deadlocks retried inside a request (log), ${certFailures} certification failures and ` +
    `${bfAborts} brute-force aborts (wsrep counters; node 2's restart resets its own); ${failovers} connections made to a later db_host ` +
    `(${skips} times a node that answered was skipped as not synced)`);
  ok(failovers > 0, `a web node whose database node was down used the next host (${failovers} times)`);

  // --- Figures: the same kind of traffic through one web node, then three.
  if (opt.throughput > 0) {
    const users = Math.max(10, Math.round(opt.throughput / 10));
    for (const [label, pick] of [['1 web node -> 1 database node', () => 0], ['3 web nodes -> 3 database nodes', () => Math.floor(Math.random() * 3)]]) {
      await resetTables();
      const h = generate(opt.seed + 100, { users, events: 10, fixtures });
      const dl = count(/deadlock on /g);
      const r = await deliver(h, pick, { concurrency: 8 });
      const bad = r.records.filter((x) => !x.final).length;
      diag(`throughput, ${label}: ${h.plan.length} deliveries in ${secs(r.ms)} = ${Math.round(h.plan.length / (r.ms / 1000))}/s ` +
        `at concurrency 8 (${count(/deadlock on /g) - dl} deadlocks retried, ${bad} undelivered)`);
      ok(bad === 0, `throughput run (${label}): every delivery answered 2xx`);
    }
  }
  ok(servers.every((s) => s.alive), 'every lighttpd still running');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  for (const s of servers) await s.close().catch(() => {});
  if (cluster) await cluster.stop().catch(() => {});
}
diag(`cluster test took ${secs(Date.now() - started)}`);
process.exitCode = done() ? 1 : 0;
