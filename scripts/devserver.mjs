import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLighttpd } from '../tests/lib/drivers.mjs';
import { MariaDB } from '../tests/lib/mariadb.mjs';
import { freePort } from '../tests/lib/procs.mjs';
import { newSecret } from '../tests/lib/sign.mjs';
import { readConfig, writeConfig } from '../tests/lib/conf.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runDir = path.join(root, '.run');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(root, 'cgi-bin', 'clerksync.fcgi'));
const confFile = path.join(runDir, 'clerksync.conf');
const rel = (p) => path.relative(process.cwd(), p) || '.';

async function firstFreePort(from, to) {
  for (let p = from; p <= to; p++) if ((await freePort(p)) === p) return p;
  return freePort();
}

async function main() {
  if (!fs.existsSync(bin)) throw new Error(`${rel(bin)} not found: run make first`);
  fs.mkdirSync(runDir, { recursive: true });

  const old = readConfig(confFile);
  const secret = old.signing_secret || newSecret();
  const password = old.db_password || undefined;

  const db = new MariaDB({ dir: path.join(runDir, 'mariadb'), password });
  const fresh = !db.initialised;
  let lighttpd = null;
  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping ...');
    if (lighttpd) await lighttpd.close();
    await db.stop();
    process.exit(code);
  };
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  console.log(fresh ? `initialising MariaDB in ${rel(db.datadir)} ...` : `starting MariaDB from ${rel(db.datadir)} ...`);
  await db.start();
  await db.createDatabase({ schemaDir: path.join(root, 'schema'), appliedFile: path.join(runDir, 'schema-applied') });

  writeConfig(confFile, {
    signing_secret: secret,
    db_socket: db.socket,
    db_user: db.user,
    db_password: db.password,
    db_name: db.database,
    log_file: path.join(runDir, 'clerksync.log'),
  });

  const port = await firstFreePort(8080, 8099);
  lighttpd = await startLighttpd({ dir: path.join(runDir, 'lighttpd'), bin, config: confFile, port, maxProcs: 2 });
  lighttpd.child.on('exit', (code) => {
    if (!stopping) {
      console.error(`lighttpd exited (${code}); see ${rel(lighttpd.errorlog)}`);
      stop(1);
    }
  });

  const fixture = path.relative(process.cwd(), path.join(root, 'tests', 'fixtures', 'clerk', 'user.created.json'));
  console.log(`
clerksync dev server
  url        ${lighttpd.url}
  secret     ${secret}
  config     ${rel(confFile)}
  log        ${rel(path.join(runDir, 'clerksync.log'))} (lighttpd: ${rel(lighttpd.errorlog)})

send a signed event:
  node ${rel(path.join(root, 'scripts', 'send.mjs'))} ${lighttpd.url} ${fixture}
look at the table:
  mariadb --no-defaults --socket=${db.socket} -uroot ${db.database} -e 'SELECT clerk_id, email, clerk_updated_at, deleted_at FROM users'

Ctrl-C stops lighttpd and MariaDB.`);
}

main().catch(async (e) => {
  console.error(`devserver: ${e.message}`);
  process.exit(1);
});
