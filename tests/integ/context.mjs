import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgiDriver, fcgiDriver, lighttpdDriver } from '../lib/drivers.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { writeConfig } from '../lib/conf.mjs';
import { onCleanup, tmpDir } from '../lib/procs.mjs';
import { newMsgId, newSecret, nowSeconds, signedHeaders } from '../lib/sign.mjs';
import { diag, eq, ok } from '../lib/tap.mjs';
import { answer, errorShapeOk, normaliseRow, normaliseUser, MEMBER_COLUMNS, ORG_COLUMNS, USER_COLUMNS, APP_COLUMNS } from './expect.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export function locate() {
  const src = path.resolve(process.env.CLERKSYNC_SRC || path.join(here, '..', '..'));
  const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
  const fixtures = path.resolve(process.env.CLERKSYNC_FIXTURES || path.join(src, 'tests', 'fixtures', 'clerk'));
  return { src, bin, fixtures, schema: path.join(src, 'schema') };
}

export class Context {
  constructor(loc) {
    Object.assign(this, loc);
    this.dir = tmpDir('clerksync-integ-');
    if (process.env.CLERKSYNC_KEEP_TMP) diag(`keeping ${this.dir}`);
    else onCleanup(() => fs.rmSync(this.dir, { recursive: true, force: true }));
    this.secret = newSecret();
    this.responses = [];
    this.logFiles = [];
    this.drivers = [];
    this.confSeq = 0;
  }

  async setup() {
    this.db = await startTempMariaDB({ timeZone: '+05:30' });
    await this.db.createDatabase({ schemaDir: this.schema });
    diag(`mariadb ${this.db.port} socket ${this.db.socket}`);
    this.log = this.logPath('clerksync');
    this.conf = this.config({});
    this.tcpConf = this.config({ db_socket: null, db_host: '127.0.0.1', db_port: this.db.port });
    this.cgi = this.cgiDriver();
  }

  logPath(name) {
    const f = path.join(this.dir, `${name}.log`);
    this.logFiles.push(f);
    return f;
  }

  baseConfig() {
    return {
      signing_secret: this.secret,
      db_socket: this.db.socket,
      db_user: this.db.user,
      db_password: this.db.password,
      db_name: this.db.database,
      log_file: this.log,
    };
  }

  config(overrides, { base = true } = {}) {
    const file = path.join(this.dir, `clerksync-${++this.confSeq}.conf`);
    return writeConfig(file, { ...(base ? this.baseConfig() : {}), ...overrides });
  }

  cgiDriver({ conf = this.conf, env = {}, stdinMode } = {}) {
    return this.wrap(cgiDriver({ bin: this.bin, env: { CLERKSYNC_CONFIG: conf, ...env }, dir: this.dir, stdinMode }));
  }

  async fcgiDriver({ conf = this.conf, env = {}, name = 'fcgi' } = {}) {
    const d = await fcgiDriver({ bin: this.bin, env: { CLERKSYNC_CONFIG: conf, ...env }, dir: this.dir, name });
    this.logFiles.push(path.join(this.dir, `${path.basename(d.socket, '.sock')}.stderr`));
    return this.wrap(d);
  }

  async lighttpdDriver({ conf = this.tcpConf, maxProcs = 2 } = {}) {
    const dir = path.join(this.dir, `lighttpd-${++this.confSeq}`);
    const d = await lighttpdDriver({ dir, bin: this.bin, config: conf, maxProcs });
    this.logFiles.push(d.server.errorlog);
    return this.wrap(d);
  }

  wrap(driver) {
    this.drivers.push(driver);
    const responses = this.responses;
    const send = driver.send.bind(driver);
    driver.send = async (req) => {
      const res = await send(req);
      const h = req.headers || {};
      res.sentSignature = h['svix-signature'] || h['webhook-signature'] || null;
      res.driver = driver.name;
      responses.push(res);
      return res;
    };
    return driver;
  }

  fixture(name) {
    return fs.readFileSync(path.join(this.fixtures, name));
  }

  fixtureFiles() {
    return fs
      .readdirSync(this.fixtures)
      .filter((f) => f.endsWith('.json') && !/vectors/.test(f))
      .sort();
  }

  deliver(driver, body, { secret = this.secret, id = newMsgId(), ts = nowSeconds(), prefix = 'svix', headers } = {}) {
    return driver.send({ headers: { ...signedHeaders(secret, body, { id, ts, prefix }), ...headers }, body });
  }

  async reset() {
    await this.db.query('DELETE FROM users');
    await this.db.query('DELETE FROM clerk_webhook_events');
    await this.db.query('DELETE FROM organizations');
    await this.db.query('DELETE FROM organization_memberships');
  }

  async org(clerkId) {
    const rows = await this.db.query(`SELECT ${ORG_COLUMNS.join(', ')} FROM organizations WHERE clerk_id = ?`, [clerkId]);
    return rows.length ? normaliseRow(rows[0], ORG_COLUMNS) : null;
  }

  async member(clerkId) {
    const rows = await this.db.query(`SELECT ${MEMBER_COLUMNS.join(', ')} FROM organization_memberships WHERE clerk_id = ?`, [clerkId]);
    return rows.length ? normaliseRow(rows[0], MEMBER_COLUMNS) : null;
  }

  async orgCounts() {
    const [o] = await this.db.query('SELECT COUNT(*) AS n FROM organizations');
    const [m] = await this.db.query('SELECT COUNT(*) AS n FROM organization_memberships');
    return { organizations: Number(o.n), memberships: Number(m.n) };
  }

  async user(clerkId, table = 'users') {
    const rows = await this.db.query(`SELECT ${USER_COLUMNS.join(', ')} FROM ${table} WHERE clerk_id = ?`, [clerkId]);
    return rows.length ? normaliseUser(rows[0]) : null;
  }

  async appColumns(clerkId) {
    const rows = await this.db.query(`SELECT ${APP_COLUMNS.join(', ')} FROM users WHERE clerk_id = ?`, [clerkId]);
    return rows[0] || null;
  }

  async counts() {
    const [u] = await this.db.query('SELECT COUNT(*) AS n FROM users');
    const [e] = await this.db.query('SELECT COUNT(*) AS n FROM clerk_webhook_events');
    return { users: Number(u.n), events: Number(e.n) };
  }

  async events() {
    const rows = await this.db.query(
      'SELECT svix_id, event_type, object_id, event_ts, outcome, ' +
        'ABS(TIMESTAMPDIFF(SECOND, received_at, UTC_TIMESTAMP())) < 120 AS received_at_utc ' +
        'FROM clerk_webhook_events ORDER BY received_at, svix_id',
    );
    return rows.map((r) => ({ ...r, event_ts: Number(r.event_ts), received_at_utc: Number(r.received_at_utc) }));
  }

  expectAnswer(res, expected, msg) {
    const got = answer(res);
    const want = { status: expected.status };
    if (expected.body) want.body = expected.body;
    if (expected.error) want.error = expected.error;
    const good = eq(got, want, msg);
    if (!good && res && res.stderr) diag(`stderr: ${res.stderr.slice(0, 500)}`);
    if (res && res.status) {
      const ct = (res.headers['content-type'] || '').split(';')[0].trim();
      if (ct !== 'application/json') ok(false, `${msg}: Content-Type application/json (got ${JSON.stringify(ct)})`);
      if (expected.error && !errorShapeOk(res)) ok(false, `${msg}: error body has "error" and "message" strings`);
    }
    return good;
  }

  async connections(host) {
    const rows = await this.db.query(
      "SELECT ID AS id, HOST AS host FROM information_schema.PROCESSLIST WHERE USER = ? AND HOST LIKE ?",
      [this.db.user, `${host}%`],
    );
    return rows;
  }

  async teardown() {
    for (const d of this.drivers.splice(0)) {
      try {
        await d.close();
      } catch (e) {
        diag(`closing ${d.name}: ${e.message}`);
      }
    }
    if (this.db) await this.db.stop();
  }
}
