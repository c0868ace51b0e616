// Delivery simulator: random Clerk histories delivered through lighttpd
// (mod_fastcgi, max-procs 3) to the real binary and a private MariaDB, with
// concurrency, repeated svix-ids and Svix-style retries; then the users and
// events tables are compared exactly with what the history allows. A second
// scenario does the same while the database restarts, the FastCGI workers
// are SIGKILLed and a receiver's connection is killed mid-transaction.
//
// usage: node tests/sim/run.mjs [--seed N[,N...]] [--users U] [--events E]
//          [--concurrency C] [--faults on|off|only] [--fault-seed N]
// Default: seeds 1, 2, 3 and one random seed (printed as "# seed N"),
// 60 users x 10 events each, then the fault scenario. TAP on stdout.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { startLighttpd } from '../lib/drivers.mjs';
import { postHttp } from '../lib/http.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { onCleanup, tmpDir, which } from '../lib/procs.mjs';
import { newSecret } from '../lib/sign.mjs';
import { diag, done, ok } from '../lib/tap.mjs';
import { deliverAll, Queue } from './deliver.mjs';
import { appWriter, injectFaults } from './faults.mjs';
import { generate } from './history.mjs';
import { verify } from './verify.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(process.env.CLERKSYNC_SRC || path.join(here, '..', '..'));
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const fixtures = path.resolve(process.env.CLERKSYNC_FIXTURES || path.join(src, 'tests', 'fixtures', 'clerk'));

function args(argv) {
  const o = { seeds: null, users: 60, events: 10, concurrency: 8, faults: 'on', faultSeed: 4 };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split('=');
    const v = () => (inline !== undefined ? inline : argv[++i]);
    const int = (x, lo, hi) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${k}: expected an integer in ${lo}..${hi}, got ${x}`);
      return n;
    };
    if (k === '--seed') o.seeds = [...(o.seeds || []), ...v().split(',').map((s) => int(s, 0, 2 ** 32 - 1))];
    else if (k === '--users') o.users = int(v(), 1, 100000);
    else if (k === '--events') o.events = int(v(), 2, 1000);
    else if (k === '--concurrency') o.concurrency = int(v(), 1, 8);
    else if (k === '--faults') o.faults = v();
    else if (k === '--fault-seed') o.faultSeed = int(v(), 0, 2 ** 32 - 1);
    else if (k === '--help' || k === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!['on', 'off', 'only'].includes(o.faults)) throw new Error('--faults: on, off or only');
  if (!o.seeds) o.seeds = [1, 2, 3, Math.floor(Math.random() * 2 ** 31)];
  return o;
}

const started = Date.now();
const opt = args(process.argv.slice(2));
const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'lighttpd'].filter((t) => !which(t));
if (!ok(missing.length === 0, `tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`) ||
    !ok(fs.existsSync(bin), `binary built: ${bin}`)) {
  process.exit(done() ? 1 : 0);
}
diag(`binary ${bin}`);
diag(`${opt.users} users x ${opt.events} events, concurrency ${opt.concurrency}, faults ${opt.faults}`);

const dir = tmpDir('clerksync-sim-');
if (process.env.CLERKSYNC_KEEP_TMP) diag(`keeping ${dir}`);
else onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));

let db;
let server;
async function resetTables() {
  await db.query('DELETE FROM users');
  await db.query('DELETE FROM clerk_webhook_events');
}

async function scenario(seed, { faults = false } = {}) {
  const label = faults ? `faults seed ${seed}` : `seed ${seed}`;
  diag(faults ? `fault seed ${seed}` : `seed ${seed}`);
  const t = Date.now();
  await resetTables();
  const hist = generate(seed, { users: opt.users, events: opt.events, fixtures });
  const queue = new Queue(hist.plan);
  const records = [];
  const sendOpts = { send: (req) => postHttp(server.url, req), secret, concurrency: opt.concurrency };
  const writer = appWriter(db, hist.users);
  const log = [];
  let injected = null;
  try {
    const delivering = deliverAll(queue, records, sendOpts);
    if (faults) {
      injected = await injectFaults({
        db, server, queue, records, opts: sendOpts, log,
        plan: [
          { at: 0.1, kind: 'restart' },
          { at: 0.2, kind: 'kill-backends' },
          { at: 0.3, kind: 'kill-conn' },
          { at: 0.45, kind: 'restart' },
          { at: 0.55, kind: 'kill-backends' },
          { at: 0.65, kind: 'kill-conn' },
          { at: 0.75, kind: 'kill-conn' },
        ],
      });
    }
    await delivering;
  } finally {
    await writer.stop();
  }
  for (const l of log) diag(l);
  if (faults) {
    ok(injected.restart === 2, `${label}: database stopped and restarted twice mid-run`);
    ok(injected.killBackends === 2 && injected.respawned >= 2, `${label}: FastCGI workers SIGKILLed twice mid-run and respawned (${injected.respawned} new)`);
    ok(injected.killConn >= 1, `${label}: a receiver's connection killed while it waited on a row lock (${injected.killConn} times)`);
    ok(server.alive, `${label}: lighttpd still running`);
  }
  const stats = await verify(db, hist, records, { label, app: writer.app });
  diag(`${label}: ${hist.users.length} users (${stats.deleted} deleted), ${hist.plan.length} deliveries, ` +
    `${stats.attempts} attempts (${stats.retried} retried, ${queue.overlaps} overlapping another of the same user), ${writer.writes} app writes in ${((Date.now() - t) / 1000).toFixed(1)} s; answers ${JSON.stringify(stats.statuses)}`);
}

const secret = newSecret();
try {
  db = await startTempMariaDB({ timeZone: '+05:30' });
  await db.createDatabase({ schemaDir: path.join(src, 'schema') });
  const conf = writeConfig(path.join(dir, 'clerksync.conf'), {
    signing_secret: secret,
    db_socket: db.socket,
    db_user: db.user,
    db_password: db.password,
    db_name: db.database,
    log_file: path.join(dir, 'clerksync.log'),
  });
  server = await startLighttpd({ dir: path.join(dir, 'lighttpd'), bin, config: conf, maxProcs: 3 });
  diag(`mariadb socket ${db.socket}; lighttpd ${server.url} (max-procs 3)`);
  if (opt.faults !== 'only') for (const seed of opt.seeds) await scenario(seed);
  if (opt.faults !== 'off') await scenario(opt.faultSeed, { faults: true });
  ok(server.alive, 'lighttpd still running after all scenarios');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (server) await server.close();
  if (db) await db.stop();
}
diag(`simulator took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
