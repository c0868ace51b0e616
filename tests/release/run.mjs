// The release tarball (make release) as a host gets it: unpacked into an
// empty root that holds nothing but a minimal /etc/passwd, a MariaDB
// socket and (for backfill) a CA bundle where RHEL keeps it, then run
// there with chroot: --version, check, migrate, signed deliveries as CGI
// and as FastCGI (spawn-fcgi -c), a user IDENTIFIED VIA ed25519 (a client
// plugin shipped in the release), schema/clerksync.sql as phpMyAdmin
// imports it, and backfill against the fake Backend API. Then the same
// folder under Apache (mod_fcgid, mod_cgi, mod_cgid) with its .htaccess as
// shipped, the least AllowOverride the README names, and FollowSymLinks
// and SymLinksIfOwnerMatch both off. Last, every `schema: ...` line the
// README shows is one the program prints.
//
// usage: node tests/release/run.mjs [TARBALL]   (default: dist/*.tar.gz)
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apacheBinary, giveTo, hasModule, runUser, startApache } from '../lib/apache.mjs';
import { startLighttpd } from '../lib/drivers.mjs';
import { startFakeClerk } from '../lib/fakeclerk.mjs';
import { cgiEnv, parseCgiOutput, postHttp } from '../lib/http.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import {
  canConnect, exited, need, onCleanup, spawnTracked, terminate, tmpDir, waitFor, which,
} from '../lib/procs.mjs';
import { newMsgId, newSecret, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const fixtures = path.join(src, 'tests', 'fixtures', 'clerk');
const fixture = (f) => fs.readFileSync(path.join(fixtures, f));
const started = Date.now();
const isRoot = process.getuid() === 0;
const secret = newSecret();
const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV'; // user.created.json

function tarball() {
  if (process.argv[2]) return path.resolve(process.argv[2]);
  const dist = path.join(src, 'dist');
  const all = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => /^clerksync-.*-linux-x86_64\.tar\.gz$/.test(f)) : [];
  all.sort((a, b) => fs.statSync(path.join(dist, b)).mtimeMs - fs.statSync(path.join(dist, a)).mtimeMs);
  return all.length ? path.join(dist, all[0]) : null;
}

function run(cmd, args, { env = {}, input, uid, gid, cwd, timeout = 30000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { PATH: process.env.PATH, ...env }, uid, gid, cwd, timeout, encoding: 'buffer', maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve({
        code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, out: stdout.toString(), err: stderr.toString(),
      }));
    child.stdin.on('error', () => {});
    child.stdin.end(input || '');
  });
}

// clerksync.conf.example with its values replaced by these (keys it
// leaves commented out are appended): the shipped example is what runs.
function fromConfExample(dir, values) {
  const text = fs.readFileSync(path.join(dir, 'clerksync.conf.example'), 'utf8');
  const left = { ...values };
  const out = text.split('\n').map((l) => {
    const m = /^#?\s*([a-z_]+)\s*=/.exec(l);
    if (!m || !(m[1] in left)) return l;
    const v = left[m[1]];
    delete left[m[1]];
    return `${m[1]} = ${v}`;
  });
  for (const [k, v] of Object.entries(left)) out.push(`${k} = ${v}`);
  return out.join('\n');
}

function unpack(file, into) {
  fs.mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-C', into, '-xzf', file]);
  return path.join(into, 'clerksync');
}

const mkdir = (d, mode = 0o755) => {
  fs.mkdirSync(d, { recursive: true });
  fs.chmodSync(d, mode);
  return d;
};

// ------------------------------------------------------- the tarball

function tarballShape(file) {
  const sum = fs.readFileSync(`${file}.sha256`, 'utf8').trim().split(/\s+/);
  const real = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  eq(sum, [real, path.basename(file)], 'tarball: the .sha256 file matches it');
  const list = execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' }).trim().split('\n');
  const names = list.map((l) => l.split(/\s+/).slice(5).join(' '));
  eq([...new Set(names.map((n) => n.split('/')[0]))], ['clerksync'], 'tarball: one folder, clerksync/');
  for (const want of ['clerksync/clerksync.fcgi', 'clerksync/.htaccess', 'clerksync/clerksync.conf.example',
    'clerksync/DEPLOY.txt', 'clerksync/schema/clerksync.sql', 'clerksync/lib/ld-linux-x86-64.so.2', 'clerksync/lib/libc.so.6',
    'clerksync/lib/libcurl.so.4', 'clerksync/lib/plugin/caching_sha2_password.so', 'clerksync/lib/plugin/client_ed25519.so']) {
    ok(names.includes(want), `tarball: holds ${want}`);
  }
  const bad = list.filter((l) => /^.....w|^........w|^...[sS]|^......[sS]/.test(l));
  eq(bad, [], 'tarball: nothing writable by group or others, nothing setuid or setgid (suEXEC)');
  eq(fs.readFileSync(path.join(src, 'htaccess.example'), 'utf8'),
    execFileSync('tar', ['-xzOf', file, 'clerksync/.htaccess'], { encoding: 'utf8' }), 'tarball: .htaccess is htaccess.example');
}

// The launcher has no dynamic loader, the program asks for the bundled one;
// nothing in the folder asks for a kernel newer than 3.2.
function elfShape(dir) {
  const headers = execFileSync('readelf', ['-l', path.join(dir, 'clerksync.fcgi')], { encoding: 'utf8' });
  ok(!/INTERP/.test(headers), 'clerksync.fcgi is static: no program interpreter, no shared library of the host');
  // The launcher has no libc (and no ABI note): five system calls that
  // every Linux has; glibc's note says the least kernel it supports.
  const kernels = [];
  for (const f of ['lib/libc.so.6']) {
    const notes = execFileSync('readelf', ['-n', path.join(dir, f)], { encoding: 'utf8' });
    const m = /ABI:\s*(\d+)\.(\d+)\.(\d+)/.exec(notes);
    kernels.push([f, m ? m.slice(1).map(Number) : null]);
  }
  ok(kernels.every(([, k]) => k && (k[0] < 3 || (k[0] === 3 && k[1] <= 2))), `kernel 3.2 is enough: ${kernels.map(([f, k]) => `${f} ${k ? k.join('.') : '?'}`).join(', ')}`);
}

// ---------------------------------------------------------- the chroot

class Root {
  constructor(base, file, db, user) {
    this.dir = mkdir(path.join(base, 'root'));
    this.user = user;
    this.app = unpack(file, this.dir);
    mkdir(path.join(this.dir, 'etc'));
    fs.writeFileSync(path.join(this.dir, 'etc', 'passwd'),
      `root:x:0:0:root:/root:/nonexistent\nacct:x:${user.uid}:${user.gid}:acct:/home/acct:/nonexistent\n`, { mode: 0o644 });
    this.home = mkdir(path.join(this.dir, 'home', 'acct'));
    giveTo(user, this.home);
    // The database's socket, hard-linked into the root (one inode).
    mkdir(path.join(this.dir, 'run'));
    fs.linkSync(db.socket, path.join(this.dir, 'run', 'mysqld.sock'));
    this.db = db;
  }

  writeConf(where, values) {
    const file = path.join(this.dir, where);
    fs.writeFileSync(file, fromConfExample(this.app, {
      signing_secret: secret, db_socket: '/run/mysqld.sock', db_user: this.db.user, db_password: this.db.password,
      db_name: this.db.database, log_file: '/home/acct/clerksync.log', ...values,
    }), { mode: 0o600 });
    fs.chownSync(file, this.user.uid, this.user.gid);
    return `/${where}`;
  }

  // A command in the root, as the account: chroot ROOT PROGRAM ARGS.
  exec(args, { env = {}, input, prog = '/clerksync/clerksync.fcgi' } = {}) {
    return run(need('chroot'), [`--userspec=${this.user.uid}:${this.user.gid}`, '--groups=', this.dir, prog, ...args], { env, input });
  }

  async cgi(file, { prefix = 'svix' } = {}) {
    const body = fixture(file);
    const headers = signedHeaders(secret, body, { id: newMsgId(), prefix });
    const r = await this.exec([], { env: cgiEnv({ headers, body }), input: body });
    const res = parseCgiOutput(r.stdout);
    res.stderr = r.err;
    return res;
  }
}

const answer = (res) => [res.status, res.json && (res.json.status || res.json.error)];

async function chrootSuite(base, file, db) {
  const user = runUser();
  const root = new Root(base, file, db, user);
  const said = (r) => r.out + r.err;
  const seen = [];

  // A preload the host's environment may carry is not loaded (the
  // bundled loader would complain on stderr, or load it). The host's
  // chroot loads it; the root has no such file.
  const v = await root.exec(['--version'], { env: { LD_PRELOAD: '/lib/x86_64-linux-gnu/libz.so.1' } });
  ok(v.code === 0 && /^clerksync \d+\.\d+\.\d+\n$/.test(v.out) && v.err === '',
    `chroot: --version, LD_PRELOAD of the host dropped (${v.out.trim()}${v.err.trim()})`);
  // Through a symlink elsewhere (~/bin/clerksync): lib/ is found beside the real file.
  fs.mkdirSync(path.join(root.home, 'bin'));
  fs.symlinkSync('../../../clerksync/clerksync.fcgi', path.join(root.home, 'bin', 'clerksync'));
  const vl = await root.exec(['--version'], { prog: '/home/acct/bin/clerksync' });
  ok(vl.code === 0 && /^clerksync \d/.test(vl.out), `chroot: started through a relative symlink in ~/bin (${vl.out.trim()}${vl.err.trim()})`);
  root.writeConf('home/acct/clerksync.conf', {});
  const c0 = await root.exec(['check']);
  seen.push(...said(c0).split('\n'));
  ok(c0.code === 1 && /^config: \/home\/acct\/clerksync\.conf \(read as user acct, uid \d+\)$/m.test(c0.out) && /^schema: version 0, expected \d+/m.test(c0.out),
    'chroot: check finds ~/clerksync.conf through the bundled glibc (getpwuid, only /etc/passwd) and says the schema is missing');
  if (c0.code !== 1) diag(said(c0));
  const m1 = await root.exec(['migrate']);
  const m2 = await root.exec(['migrate']);
  seen.push(...said(m1).split('\n'), ...said(m2).split('\n'));
  ok(m1.code === 0 && /^schema: version 0 -> \d+$/m.test(m1.out), `chroot: migrate (${m1.out.trim() || m1.err.trim()})`);
  ok(m2.code === 0 && /^schema: already at version \d+$/m.test(m2.out), `chroot: migrate again (${m2.out.trim()})`);
  // Relative, from the root's /: the launcher finds its folder without /proc.
  const c1 = await root.exec(['check'], { prog: 'clerksync/clerksync.fcgi' });
  seen.push(...said(c1).split('\n'));
  ok(c1.code === 0 && /^ok$/m.test(c1.out), 'chroot: check started by a relative path exits 0');
  if (c1.code !== 0) diag(said(c1));
  ok(!fs.existsSync(path.join(root.dir, 'proc')) && !fs.existsSync(path.join(root.dir, 'dev')), 'chroot: the root has no /proc and no /dev');

  // Signed deliveries as CGI, asserted in the database.
  await db.query('DELETE FROM users');
  await db.query('DELETE FROM clerk_webhook_events');
  const r1 = await root.cgi('user.created.json');
  eq(answer(r1), [200, 'applied'], 'chroot CGI: user.created applied');
  if (r1.status !== 200) diag(r1.stderr);
  const r2 = await root.cgi('user.updated.json', { prefix: 'webhook' });
  eq(answer(r2), [200, 'applied'], 'chroot CGI: user.updated (webhook-* headers) applied');
  const upd = JSON.parse(fixture('user.updated.json')).data;
  const row = await db.query('SELECT first_name, clerk_updated_at FROM users WHERE clerk_id = ?', [Z]);
  eq(row.map((r) => [r.first_name, Number(r.clerk_updated_at)]), [[upd.first_name, upd.updated_at]], 'chroot CGI: the row holds the update');

  // FastCGI: spawn-fcgi chroots and drops to the account; the socket is on fd 0 across the launcher's exec.
  // spawn-fcgi binds after chroot: the socket lives inside the root.
  const sock = path.join(root.dir, 'run', 'fcgi.sock');
  const app = spawnTracked(need('spawn-fcgi'), ['-s', '/run/fcgi.sock', '-M', '0600', '-c', root.dir, '-u', String(user.uid), '-g', String(user.gid),
    '-n', '--', '/clerksync/clerksync.fcgi'], { env: { PATH: process.env.PATH }, stdio: 'ignore', detached: true });
  try {
    let dead = false;
    exited(app).then(() => {
      dead = true;
    });
    await waitFor(async () => dead || (fs.existsSync(sock) && (await canConnect({ path: sock }))), { what: 'FastCGI socket' });
    ok(!dead, 'chroot FastCGI: spawn-fcgi -c started the release');
    const sends = [];
    for (const f of ['user.created.username-only.json', 'user.deleted.external-id.json']) {
      const body = fixture(f);
      const env = cgiEnv({ headers: signedHeaders(secret, body), body });
      const r = await run(need('cgi-fcgi'), ['-bind', '-connect', sock], { env, input: body });
      sends.push(answer(parseCgiOutput(r.stdout)));
    }
    eq(sends, [[200, 'applied'], [200, 'applied']], 'chroot FastCGI: a create and a delete applied by one process');
    const j = await db.query("SELECT deleted_at IS NOT NULL AS gone FROM users WHERE clerk_id = 'user_3AGEFmml9Hbblv3lXYgyrUDiJvR'");
    eq(j.map((r) => Number(r.gone)), [1], 'chroot FastCGI: the user is marked deleted');
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM clerk_webhook_events'))[0].n), 4, 'chroot: four events recorded');
  } finally {
    await terminate(app, { timeout: 10000 });
  }

  // A user IDENTIFIED VIA ed25519: Connector/C loads client_ed25519.so
  // from the release (as it would caching_sha2_password.so).
  await db.query("INSTALL SONAME 'auth_ed25519'").catch(() => {});
  const edpw = crypto.randomBytes(9).toString('hex');
  await db.query("DROP USER IF EXISTS 'cs_ed'@'localhost'");
  await db.query(`CREATE USER 'cs_ed'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD('${edpw}')`);
  await db.query(`GRANT ALL ON \`${db.database}\`.* TO 'cs_ed'@'localhost'`);
  const edConf = root.writeConf('home/acct/ed.conf', { db_user: 'cs_ed', db_password: edpw });
  const ed = await root.exec(['check'], { env: { CLERKSYNC_CONFIG: edConf } });
  ok(ed.code === 0 && /^ok$/m.test(ed.out), 'chroot: a user IDENTIFIED VIA ed25519 connects (client plugin from the release)');
  if (ed.code !== 0) diag(said(ed));

  // schema/clerksync.sql, as phpMyAdmin imports it: on an empty database
  // and on a version 1 one; check agrees, versions recorded as migrate does.
  const sql = fs.readFileSync(path.join(root.app, 'schema', 'clerksync.sql'));
  for (const [name, first] of [['cs_import_empty', null], ['cs_import_v1', '001_init.sql']]) {
    await db.query(`DROP DATABASE IF EXISTS ${name}`);
    await db.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
    await db.query(`GRANT ALL ON ${name}.* TO ?@'localhost'`, [db.user]);
    if (first) db.sql(fs.readFileSync(path.join(root.app, 'schema', first)), name, first);
    db.sql(sql, name, 'clerksync.sql');
    const r = await root.exec(['check'], { env: { CLERKSYNC_CONFIG: root.writeConf(`home/acct/${name}.conf`, { db_name: name }) } });
    const versions = (await db.query(`SELECT version FROM ${name}.clerksync_schema ORDER BY version`)).map((x) => Number(x.version));
    const want = (await db.query('SELECT version FROM clerksync_schema ORDER BY version')).map((x) => Number(x.version));
    ok(r.code === 0 && /^ok$/m.test(r.out) && versions.join() === want.join(),
      `schema/clerksync.sql on ${first ? 'a version 1' : 'an empty'} database: check ok, versions ${versions.join(',')} as migrate records them`);
    if (r.code !== 0) diag(said(r));
    await db.query(`DROP DATABASE ${name}`);
  }

  // backfill: Debian's libcurl from the release, the CA bundle where
  // RHEL-family hosts keep it (not where Debian's libcurl looks).
  const fc = await startFakeClerk();
  try {
    fc.addUsers(25);
    const ca = mkdir(path.join(root.dir, 'etc', 'pki', 'tls', 'certs'));
    fs.copyFileSync(fc.caFile, path.join(ca, 'ca-bundle.crt'));
    fs.chmodSync(path.join(ca, 'ca-bundle.crt'), 0o644);
    await db.query('DELETE FROM users');
    const bfConf = root.writeConf('home/acct/backfill.conf', { clerk_secret_key: fc.secretKey, clerk_api_url: fc.url });
    const bf = await root.exec(['backfill'], { env: { CLERKSYNC_CONFIG: bfConf } });
    ok(bf.code === 0 && /^users: 25 read: 25 inserted/m.test(bf.out), 'chroot: backfill imports 25 users over HTTPS (bundled libcurl, CA found at /etc/pki/tls/certs/ca-bundle.crt)');
    if (bf.code !== 0) diag(said(bf));
    eq(Number((await db.query('SELECT COUNT(*) AS n FROM users'))[0].n), 25, 'chroot: backfill: 25 rows');
  } finally {
    await fc.close();
  }
  return seen;
}

// --------------------------------------------------------------- Apache

// The least the README asks of a host, and no FollowSymLinks.
const LEAST = 'AllowOverride AuthConfig FileInfo Options=ExecCGI';
const BASE = ['authz_core', 'mime', 'dir', 'env', 'rewrite', 'alias'];
const MODES = { fcgid: ['mpm_event', ...BASE, 'fcgid'], cgi: ['mpm_prefork', ...BASE, 'cgi'], cgid: ['mpm_event', ...BASE, 'cgid'] };

async function apacheSuite(base, file, db, mode) {
  const user = runUser();
  const name = `apache-${mode}`;
  const docroot = mkdir(path.join(base, name, 'public_html'));
  fs.writeFileSync(path.join(docroot, '.htaccess'), 'RewriteEngine On\nRewriteCond %{HTTPS} off\nRewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [L,R=301]\n');
  fs.writeFileSync(path.join(docroot, 'index.html'), '<p>site</p>\n');
  const app = unpack(file, docroot);
  // Beside the binary: found through the folder the launcher passes on.
  fs.writeFileSync(path.join(app, 'clerksync.conf'), fromConfExample(app, {
    signing_secret: secret, db_host: '127.0.0.1', db_port: db.port, db_user: db.user, db_password: db.password,
    db_name: db.database, log_file: path.join(mkdir(path.join(base, name, 'logs')), 'clerksync.log'),
  }), { mode: 0o600 });
  giveTo(user, path.join(base, name));
  const run = mkdir(path.join(base, name, 'run'));
  const extra = [
    `<Directory ${JSON.stringify(docroot)}>`, '    Options None', `    ${LEAST}`, '</Directory>',
    mode === 'fcgid' ? `FcgidIPCDir ${JSON.stringify(path.join(run, 'fcgid'))}` : '',
    mode === 'fcgid' ? `FcgidProcessTableFile ${JSON.stringify(path.join(run, 'fcgid_shm'))}` : '',
    mode === 'cgid' ? `ScriptSock ${JSON.stringify(path.join(run, 'cgid.sock'))}` : '',
  ];
  const srv = await startApache({ dir: mkdir(path.join(base, name, 'server')), docroot, modules: MODES[mode], extra, user });
  const tag = `apache ${mode}, ${LEAST}, Options None`;
  try {
    await db.query('DELETE FROM users');
    const body = fixture('user.created.json');
    const res = await postHttp(srv.url('/clerksync/clerksync.fcgi'), { headers: signedHeaders(secret, body), body });
    eq(answer(res), [200, 'applied'], `${tag}: user.created applied through the shipped .htaccess`);
    if (res.status !== 200) diag(`${res.status} ${res.raw && res.raw.slice(0, 300)}\n${srv.log().split('\n').slice(-8).join('\n')}`);
    eq((await db.query('SELECT clerk_id FROM users')).map((r) => r.clerk_id), [Z], `${tag}: the row is there`);
    const get = await postHttp(srv.url('/clerksync/clerksync.fcgi'), { method: 'GET' });
    eq(get.status, 405, `${tag}: GET of the endpoint reaches the program (405)`);
    const refused = [];
    for (const p of ['clerksync.conf', 'clerksync.conf.example', 'lib/clerksync', 'lib/libc.so.6', 'schema/clerksync.sql', 'DEPLOY.txt', '.htaccess']) {
      const r = await postHttp(srv.url(`/clerksync/${p}`), { method: 'GET' });
      refused.push([p, r.status]);
    }
    eq(refused.filter(([, s]) => s !== 403), [], `${tag}: everything in the folder but the program is refused (403)`);
  } finally {
    await srv.close();
  }
}

// lighttpd's mod_fastcgi starting the release itself (bin-path, 2
// processes, the listening socket on fd 0 through the launcher's exec).
async function lighttpdSuite(base, file, db) {
  const dir = mkdir(path.join(base, 'lighttpd'));
  const app = unpack(file, dir);
  const conf = path.join(dir, 'clerksync.conf');
  fs.writeFileSync(conf, fromConfExample(app, {
    signing_secret: secret, db_socket: db.socket, db_user: db.user, db_password: db.password, db_name: db.database,
    log_file: path.join(dir, 'clerksync.log'),
  }), { mode: 0o600 });
  const srv = await startLighttpd({ dir: path.join(dir, 'server'), bin: path.join(app, 'clerksync.fcgi'), config: conf, maxProcs: 2 });
  try {
    await db.query('DELETE FROM users');
    const got = [];
    for (const f of ['user.created.json', 'user.updated.json']) {
      const body = fixture(f);
      got.push(answer(await postHttp(srv.url, { headers: signedHeaders(secret, body), body })));
    }
    eq(got, [[200, 'applied'], [200, 'applied']], 'lighttpd mod_fastcgi (bin-path = the release): create and update applied');
    const upd = JSON.parse(fixture('user.updated.json')).data;
    eq((await db.query('SELECT first_name FROM users')).map((r) => r.first_name), [upd.first_name], 'lighttpd mod_fastcgi: the row holds the update');
    const procs = srv.backends.filter((pid) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/exe`) === path.join(app, 'lib', 'ld-linux-x86-64.so.2');
      } catch {
        return false;
      }
    });
    eq(procs.length, 2, 'lighttpd mod_fastcgi: two persistent processes, each the bundled loader running the program');
  } finally {
    await srv.close();
  }
}

// ------------------------------------------------- README's version lines

function readmeLines(seen) {
  const readme = fs.readFileSync(path.join(src, 'README.md'), 'utf8');
  const shown = [...readme.matchAll(/schema: (?:already at )?version [^`\n]*/g)].map((m) => m[0].replace(/\s+\.\.\.$/, '').trim());
  ok(shown.length >= 3, `README: shows ${shown.length} \`schema: version\` lines`);
  const printed = seen.map((l) => l.trim().replace(/`/g, '')).filter((l) => l.startsWith('schema:'));
  const wrong = shown.filter((s) => !printed.some((p) => p.startsWith(s)));
  eq(wrong, [], `README: every \`schema: ...\` line it shows is one migrate or check prints (${[...new Set(printed)].join(' | ')})`);
}

// ---------------------------------------------------------------- entry

async function main() {
  const file = tarball();
  if (!ok(file && fs.existsSync(file), `release: a tarball to test (${file || 'none in dist/: run make release'})`)) return;
  diag(`testing ${path.relative(src, file)}`);
  await test('release: tarball', () => tarballShape(file));
  const base = tmpDir('clerksync-release-');
  fs.chmodSync(base, 0o755);
  onCleanup(() => fs.rmSync(base, { recursive: true, force: true }));
  await test('release: ELF', () => elfShape(unpack(file, path.join(base, 'look'))));
  if (!isRoot || !which('chroot')) {
    ok(false, `release: the chroot and Apache runs need root and chroot (uid ${process.getuid()}): not run`);
    return;
  }
  const db = await startTempMariaDB();
  await db.createDatabase();
  let seen = [];
  await test('release: chroot', async () => {
    seen = await chrootSuite(base, file, db);
  });
  await test('release: README', () => readmeLines(seen));
  await test('release: lighttpd', () => lighttpdSuite(base, file, db));
  if (!apacheBinary()) {
    ok(false, 'release: apache2 not installed');
    return;
  }
  for (const mode of ['fcgid', 'cgi', 'cgid']) {
    if (mode === 'fcgid' && !hasModule('fcgid')) {
      ok(false, 'release: mod_fcgid not installed');
      continue;
    }
    await test(`release: apache ${mode}`, () => apacheSuite(base, file, db, mode));
  }
  await db.close();
}

await main().catch((e) => ok(false, `release: ${e.stack || e}`));
diag(`release suite took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
