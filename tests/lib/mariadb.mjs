import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { canConnect, exited, freePort, need, onCleanup, sleep, spawnTracked, terminate, tmpDir } from './procs.mjs';

const isRoot = process.getuid && process.getuid() === 0;

// Server tuning for the tests: small, and no fsync per commit. The
// benchmark passes its own (default durability).
export const TEST_SERVER_ARGS = [
  '--innodb-buffer-pool-size=64M',
  '--innodb-log-file-size=16M',
  '--innodb-flush-log-at-trx-commit=2',
];

export class MariaDB {
  // tls: { ca, cert, key } (PEM files, e.g. from makeTlsFiles) to accept
  // TLS connections; clients choose whether to use it.
  constructor({ dir, port, database = 'clerksync', user = 'clerksync', password, timeZone, serverArgs = TEST_SERVER_ARGS, tls } = {}) {
    this.serverArgs = serverArgs;
    this.tls = tls;
    this.dir = dir;
    this.port = port;
    this.database = database;
    this.user = user;
    this.password = password || crypto.randomBytes(12).toString('hex');
    this.timeZone = timeZone;
    this.child = null;
    this.conn = null;
    this.datadir = path.join(dir, 'data');
    this.socket = path.join(dir, 'mysqld.sock');
    this.pidFile = path.join(dir, 'mysqld.pid');
    this.errorLog = path.join(dir, 'mysqld.err');
    if (Buffer.byteLength(this.socket) > 100) throw new Error(`socket path too long: ${this.socket}`);
  }

  get initialised() {
    return fs.existsSync(path.join(this.datadir, 'mysql'));
  }

  install() {
    fs.mkdirSync(this.datadir, { recursive: true });
    const args = [
      '--no-defaults',
      `--datadir=${this.datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ];
    if (isRoot) args.push('--user=root');
    try {
      execFileSync(need('mariadb-install-db'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new Error(`mariadb-install-db failed: ${e.stderr || e.message}`);
    }
  }

  async start() {
    if (!this.initialised) this.install();
    if (!this.port) this.port = await freePort();
    const args = [
      '--no-defaults',
      `--datadir=${this.datadir}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${this.pidFile}`,
      `--log-error=${this.errorLog}`,
      `--tmpdir=${this.dir}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      ...this.serverArgs,
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
    ];
    if (this.timeZone) args.push(`--default-time-zone=${this.timeZone}`);
    if (this.tls) args.push(`--ssl-ca=${this.tls.ca}`, `--ssl-cert=${this.tls.cert}`, `--ssl-key=${this.tls.key}`);
    if (isRoot) args.push('--user=root');
    this.child = spawnTracked(need('mariadbd'), args, { stdio: 'ignore', detached: true });
    const child = this.child;
    let dead = false;
    exited(child).then(() => {
      dead = true;
    });
    const end = Date.now() + 60000;
    for (;;) {
      if (dead) throw new Error(`mariadbd exited during start-up:\n${this.logTail()}`);
      if (fs.existsSync(this.socket) && (await canConnect({ path: this.socket }))) {
        try {
          const c = await this.rootConnection();
          await c.end();
          break;
        } catch {}
      }
      if (Date.now() > end) throw new Error(`mariadbd did not become ready:\n${this.logTail()}`);
      await sleep(100);
    }
    return this;
  }

  logTail(n = 20) {
    try {
      return fs.readFileSync(this.errorLog, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '(no error log)';
    }
  }

  rootConnection(database) {
    return mysql.createConnection({
      socketPath: this.socket,
      user: 'root',
      database,
      dateStrings: true,
      supportBigNumbers: true,
      multipleStatements: true,
      charset: 'utf8mb4',
      typeCast: (field, next) => (field.type === 'JSON' ? field.string('utf8') : next()),
    });
  }

  async stop() {
    if (this.conn) {
      this.conn.destroy();
      this.conn = null;
    }
    if (this.child) {
      await terminate(this.child, { timeout: 30000, tree: false });
      this.child = null;
    }
  }

  async createDatabase({ schemaDir, appliedFile } = {}) {
    const q = (s) => mysql.escape(s);
    const c = await this.rootConnection();
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${this.database}\` CHARACTER SET utf8mb4`);
      for (const host of ['localhost', '127.0.0.1']) {
        await c.query(`CREATE USER IF NOT EXISTS ${q(this.user)}@${q(host)} IDENTIFIED BY ${q(this.password)}`);
        await c.query(`ALTER USER ${q(this.user)}@${q(host)} IDENTIFIED BY ${q(this.password)}`);
        await c.query(`GRANT ALL ON \`${this.database}\`.* TO ${q(this.user)}@${q(host)}`);
      }
    } finally {
      await c.end();
    }
    if (schemaDir) this.loadSchema(schemaDir, appliedFile);
  }

  loadSchema(schemaDir, appliedFile) {
    const files = fs.readdirSync(schemaDir).filter((f) => f.endsWith('.sql')).sort();
    if (files.length === 0) throw new Error(`no schema/*.sql files in ${schemaDir}`);
    const done = new Set();
    if (appliedFile && fs.existsSync(appliedFile)) {
      for (const l of fs.readFileSync(appliedFile, 'utf8').split('\n')) if (l) done.add(l);
    }
    for (const f of files) {
      if (done.has(f)) continue;
      this.sql(fs.readFileSync(path.join(schemaDir, f)), this.database, f);
      if (appliedFile) fs.appendFileSync(appliedFile, f + '\n');
    }
    return files;
  }

  sql(input, database = this.database, what = 'sql') {
    const args = ['--no-defaults', `--socket=${this.socket}`, '-uroot', '--batch', '--skip-column-names'];
    if (database) args.push(database);
    try {
      return execFileSync(need('mariadb'), args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    } catch (e) {
      throw new Error(`mariadb client failed on ${what}: ${e.stderr || e.message}`);
    }
  }

  async query(sql, params = []) {
    if (!this.conn) {
      this.conn = await this.rootConnection(this.database);
      this.conn.on('error', () => {
        this.conn = null;
      });
      await this.conn.query('SET SESSION lock_wait_timeout = 10, SESSION innodb_lock_wait_timeout = 10');
    }
    const [rows] = await this.conn.query(sql, params);
    return rows;
  }

  async close() {
    await this.stop();
  }
}

// A throwaway CA and a server certificate it signed, for 127.0.0.1 and
// localhost, made with the openssl CLI in dir; also a second CA that signed
// nothing here, and a certificate of the first CA for another host name.
// Returns their paths: { ca, cert, key, otherCa, wrongNameCert, wrongNameKey }.
export function makeTlsFiles(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n) => path.join(dir, n);
  const cnf = f('openssl.cnf');
  const srv = (name, san) => [
    `[${name}]`, 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = serverAuth', `subjectAltName = ${san}`, 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid,issuer',
  ];
  fs.writeFileSync(cnf, [
    '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = clerksync-test',
    '[v3_ca]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash',
    ...srv('v3_srv', 'IP:127.0.0.1,DNS:localhost'),
    ...srv('v3_wrong', 'DNS:db.elsewhere.example'), '',
  ].join('\n'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args) => execFileSync(need('openssl'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name, cn) => run(['req', '-x509', '-config', cnf, '-extensions', 'v3_ca', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-days', '2', '-subj', `/CN=${cn}`]);
  const cert = (name, cn, ext) => {
    run(['req', '-new', '-config', cnf, ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    run(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-out', f(`${name}.pem`), '-days', '2',
      '-set_serial', '0x' + crypto.randomBytes(8).toString('hex'), '-extfile', cnf, '-extensions', ext]);
  };
  ca('ca', 'clerksync throwaway CA');
  ca('other-ca', 'clerksync other throwaway CA');
  cert('server', '127.0.0.1', 'v3_srv');
  cert('wrong-name', 'db.elsewhere.example', 'v3_wrong');
  return {
    ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), otherCa: f('other-ca.pem'),
    wrongNameCert: f('wrong-name.pem'), wrongNameKey: f('wrong-name.key'),
  };
}

export async function startTempMariaDB(opts = {}) {
  const dir = tmpDir('clerksync-db-');
  const db = new MariaDB({ dir, ...opts });
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  await db.start();
  return db;
}
