// The deployment side, tested as shipped: htaccess.example under a real
// Apache 2.4 (mod_fcgid, mod_cgi only, mod_cgid only), the examples/ for
// Apache, lighttpd, nginx + spawn-fcgi and PHP, and the check / migrate
// subcommands. Every file is used as written; only the placeholders its
// header documents are filled in.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { apacheBinary, canFakeHome, giveTo, hasModule, runUser, startApache } from '../../lib/apache.mjs';
import { startNginx } from '../../lib/nginx.mjs';
import { writeConfig } from '../../lib/conf.mjs';
import { postHttp } from '../../lib/http.mjs';
import {
  canConnect, exited, freePort, need, onCleanup, readLog, sleep, spawnTracked, startServer, terminate, tmpDir, waitFor, which,
} from '../../lib/procs.mjs';
import { newMsgId, newSecret, signedHeaders } from '../../lib/sign.mjs';
import { diag, eq, ok, test } from '../../lib/tap.mjs';
import { expectedDeleted, expectedUser } from '../expect.mjs';

const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV'; // user.created.json, user.updated.json
const J = 'user_3AGEFmml9Hbblv3lXYgyrUDiJvR'; // user.created.username-only.json, user.deleted.external-id.json

// ---------------------------------------------------------------- helpers

// An example file with its documented placeholders filled in. Every
// @NAME@ must be named in the file's leading comment block, and every
// value given must be used: the example is what the test runs.
export function fromExample(file, values) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && (/^\s*(#|\/\/)/.test(lines[i]) || (i === 0 && lines[i].startsWith('#!')))) i++;
  const header = lines.slice(0, i).join('\n');
  const used = [...new Set(text.match(/@[A-Z_]+@/g) || [])];
  const undocumented = used.filter((p) => !header.includes(p));
  const missing = used.filter((p) => !(p.slice(1, -1) in values));
  const unused = Object.keys(values).filter((k) => !used.includes(`@${k}@`));
  if (undocumented.length || missing.length || unused.length) {
    throw new Error(`${path.basename(file)}: placeholders undocumented ${undocumented} / without a value ${missing} / not in the file ${unused}`);
  }
  return text.replace(/@([A-Z_]+)@/g, (_, k) => String(values[k]));
}

function procsOf(bin) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/exe`) === bin) out.push(Number(e));
    } catch {}
  }
  return out;
}

// CGI processes may still be exiting (a sanitizer build checks for leaks
// at exit) when the answer is in: give them a moment.
async function settledProcs(bin, want, ms = 5000) {
  const end = Date.now() + ms;
  let now = procsOf(bin);
  while (now.length !== want && Date.now() < end) {
    await sleep(50);
    now = procsOf(bin);
  }
  return now;
}

function runCmd(cmd, args, { env, timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, signal: err && err.signal });
    });
  });
}

class Deploy {
  constructor(ctx) {
    this.ctx = ctx;
    this.user = runUser();
    this.base = tmpDir('clerksync-deploy-');
    fs.chmodSync(this.base, 0o755);
    if (process.env.CLERKSYNC_KEEP_TMP) diag(`keeping ${this.base}`);
    else onCleanup(() => fs.rmSync(this.base, { recursive: true, force: true }));
    this.htaccess = path.join(ctx.src, 'htaccess.example');
    this.examples = path.join(ctx.src, 'examples');
    this.seq = 0;
  }

  // A folder owned by the account the server runs programs as.
  mkdir(...parts) {
    const d = path.join(this.base, ...parts);
    fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    fs.chmodSync(d, 0o755);
    giveTo(this.user, d);
    return d;
  }

  // A config like the one an account writes: TCP to the database (the
  // temp MariaDB's socket folder is private), log_file outside the web root.
  config(file, overrides = {}) {
    const { db } = this.ctx;
    const logDir = this.mkdir('logs');
    const log = path.join(logDir, `clerksync-${++this.seq}.log`);
    writeConfig(file, {
      signing_secret: this.ctx.secret,
      db_host: '127.0.0.1',
      db_port: db.port,
      db_user: db.user,
      db_password: db.password,
      db_name: db.database,
      log_file: log,
      ...overrides,
    });
    this.ctx.logFiles.push(log);
    giveTo(this.user, file);
    return file;
  }

  copyBin(dir, name = 'clerksync.fcgi') {
    const bin = path.join(dir, name);
    fs.copyFileSync(this.ctx.bin, bin);
    fs.chmodSync(bin, 0o755);
    giveTo(this.user, bin);
    return bin;
  }

  // public_html with a site-wide "force https" rule, and clerk/ holding
  // the binary, htaccess.example as .htaccess, and clerksync.conf beside.
  site(name, { besideConf = true, extras } = {}) {
    const docroot = this.mkdir(name, 'public_html');
    fs.writeFileSync(path.join(docroot, 'index.html'), '<p>site</p>\n');
    fs.writeFileSync(path.join(docroot, '.htaccess'), [
      '# the site\'s own rules, as a CMS or a host panel writes them',
      'RewriteEngine On',
      'RewriteCond %{HTTPS} off',
      'RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [L,R=301]',
      '',
    ].join('\n'));
    const clerk = this.mkdir(name, 'public_html', 'clerk');
    const bin = this.copyBin(clerk);
    fs.copyFileSync(this.htaccess, path.join(clerk, '.htaccess'));
    const conf = besideConf ? this.config(path.join(clerk, 'clerksync.conf')) : null;
    if (conf) {
      fs.copyFileSync(conf, path.join(clerk, 'clerksync.conf.bak'));
      fs.writeFileSync(path.join(clerk, 'notes.txt'), 'not for the web\n');
    }
    let setenv = null;
    if (extras) {
      // The one documented addition to the .htaccess: SetEnv.
      const dir = this.mkdir(name, 'public_html', 'clerk-setenv');
      setenv = { dir, bin: this.copyBin(dir), secret: newSecret() };
      setenv.conf = this.config(path.join(this.mkdir(name, 'private'), 'clerksync.conf'), { signing_secret: setenv.secret });
      fs.writeFileSync(path.join(dir, '.htaccess'),
        `${fs.readFileSync(this.htaccess, 'utf8')}\nSetEnv CLERKSYNC_CONFIG ${setenv.conf}\n`);
    }
    let noconf = null;
    if (extras) {
      // No config anywhere: what a forgotten ~/clerksync.conf looks like.
      const dir = this.mkdir(name, 'public_html', 'clerk-noconf');
      noconf = { dir, bin: this.copyBin(dir) };
      fs.copyFileSync(this.htaccess, path.join(dir, '.htaccess'));
    }
    let broken = null;
    if (extras) {
      // A program that cannot start (as with a library "not found").
      const dir = this.mkdir(name, 'public_html', 'clerk-broken');
      broken = { dir, bin: path.join(dir, 'clerksync.fcgi') };
      fs.writeFileSync(broken.bin, '#!/nonexistent/ld-linux.so\n', { mode: 0o755 });
      fs.copyFileSync(this.htaccess, path.join(dir, '.htaccess'));
    }
    giveTo(this.user, docroot);
    return { docroot, clerk, bin, conf, setenv, noconf, broken };
  }

  httpDriver(name, url, server) {
    return this.ctx.wrap({ name, url, send: (req) => postHttp(url, req), close: () => server.close() });
  }

  get(url) {
    return postHttp(url, { method: 'GET' });
  }
}

// created Z, created J, updated Z (svix-*), a replay, deleted J (webhook-*).
async function deliveries(ctx, driver, tag, { secret = ctx.secret } = {}) {
  await ctx.reset();
  const send = async (file, prefix = 'svix', id = newMsgId()) => {
    const res = await ctx.deliver(driver, ctx.fixture(file), { secret, id, prefix });
    return { res, id };
  };
  const created = await send('user.created.json');
  ctx.expectAnswer(created.res, { status: 200, body: 'applied' }, `${tag}: user.created applied`);
  eq(await ctx.user(Z), expectedUser(JSON.parse(ctx.fixture('user.created.json')).data), `${tag}: user.created row`);
  const j = await send('user.created.username-only.json');
  ctx.expectAnswer(j.res, { status: 200, body: 'applied' }, `${tag}: second user created`);
  const updated = await send('user.updated.json');
  ctx.expectAnswer(updated.res, { status: 200, body: 'applied' }, `${tag}: user.updated applied`);
  eq(await ctx.user(Z), expectedUser(JSON.parse(ctx.fixture('user.updated.json')).data), `${tag}: user.updated row`);
  const replay = await send('user.updated.json', 'svix', updated.id);
  ctx.expectAnswer(replay.res, { status: 200, body: 'duplicate' }, `${tag}: replay of the same svix-id is a duplicate`);
  const before = await ctx.user(J);
  const del = JSON.parse(ctx.fixture('user.deleted.external-id.json'));
  const deleted = await send('user.deleted.external-id.json', 'webhook');
  ctx.expectAnswer(deleted.res, { status: 200, body: 'applied' }, `${tag}: user.deleted with webhook-* headers applied`);
  eq(await ctx.user(J), expectedDeleted(before, del), `${tag}: user.deleted row`);
  eq(await ctx.counts(), { users: 2, events: 4 }, `${tag}: two users, four events recorded`);
}

async function refused(d, url, what, tag) {
  const res = await d.get(url);
  eq(res.status, 403, `${tag}: GET ${what} refused (403)`);
  if (res.status !== 403) diag(`answer: ${res.status} ${res.raw.slice(0, 200)}`);
  return res;
}

// -------------------------------------------------------------- Apache

const APACHE_BASE = ['authz_core', 'mime', 'dir', 'env', 'rewrite', 'headers', 'alias', 'autoindex'];

const MODULES = {
  fcgid: ['mpm_event', ...APACHE_BASE, 'fcgid'],
  cgi: ['mpm_prefork', ...APACHE_BASE, 'cgi'],
  cgid: ['mpm_event', ...APACHE_BASE, 'cgid'],
  none: ['mpm_event', ...APACHE_BASE],
};

function runtimeLines(d, name, mode) {
  const run = d.mkdir(name, 'run');
  if (mode === 'fcgid') {
    return [`FcgidIPCDir ${JSON.stringify(path.join(run, 'fcgid'))}`,
      `FcgidProcessTableFile ${JSON.stringify(path.join(run, 'fcgid_shm'))}`];
  }
  if (mode === 'cgid') return [`ScriptSock ${JSON.stringify(path.join(run, 'cgid.sock'))}`];
  return [];
}

async function stopAndCount(srv, bins, tag) {
  await srv.close();
  let left = [];
  for (let i = 0; i < 40; i++) {
    left = bins.filter(Boolean).flatMap(procsOf);
    if (left.length === 0) break;
    await sleep(100);
  }
  eq(left, [], `${tag}: no clerksync process left after Apache stops`);
}

async function apacheSite(ctx, d, mode, { name = `apache-${mode}`, more = [] } = {}) {
  const modules = MODULES[mode];
  const site = d.site(name, { extras: mode !== 'cgid' });
  const extra = [
    // A shared host's defaults: listings on, .htaccess may say anything.
    `<Directory ${JSON.stringify(site.docroot)}>`,
    '    Options Indexes FollowSymLinks',
    // Some hosts let .htaccess switch on ExecCGI and no other option.
    mode === 'cgid' ? '    AllowOverride AuthConfig FileInfo Indexes Limit Options=ExecCGI' : '',
    '</Directory>',
  ];
  extra.push(...runtimeLines(d, name, mode), ...more);
  let vps = null;
  if (mode === 'fcgid' && more.length === 0) {
    // The server-level variant from examples/apache-fcgid.conf, on a
    // second port: FcgidInitialEnv sets the process environment.
    const vdir = d.mkdir(name, 'vps');
    vps = { port: await freePort(), secret: newSecret(), bin: d.copyBin(d.mkdir(name, 'vps', 'lib')) };
    vps.conf = d.config(path.join(vdir, 'clerksync.conf'), { signing_secret: vps.secret });
    const snippet = path.join(vdir, 'clerksync-vhost.conf');
    fs.writeFileSync(snippet, fromExample(path.join(d.examples, 'apache-fcgid.conf'), { BIN: vps.bin, CONF: vps.conf }));
    extra.push(`Listen 127.0.0.1:${vps.port}`, `<VirtualHost 127.0.0.1:${vps.port}>`,
      `    DocumentRoot ${JSON.stringify(d.mkdir(name, 'vps', 'htdocs'))}`, `    Include ${JSON.stringify(snippet)}`,
      '</VirtualHost>');
  }
  const srv = await startApache({ dir: d.mkdir(name, 'server'), docroot: site.docroot, modules, extra, user: d.user });
  ctx.logFiles.push(srv.errorLog);
  return { srv, site, vps };
}

// Hosts recycle FastCGI processes every N requests (as for PHP): every
// delivery across the recycling must be applied exactly once.
async function apacheRecycle(ctx, d) {
  const tag = 'apache mod_fcgid, FcgidMaxRequestsPerProcess 3';
  const { srv, site } = await apacheSite(ctx, d, 'fcgid', { name: 'apache-recycle', more: ['FcgidMaxRequestsPerProcess 3'] });
  try {
    await ctx.reset();
    const drv = d.httpDriver('apache-recycle', srv.url('/clerk/clerksync.fcgi'), srv);
    const base = JSON.parse(ctx.fixture('user.created.json'));
    const pids = new Set();
    const answers = [];
    for (let i = 0; i < 10; i++) {
      base.data.id = `user_recycle${String(i).padStart(4, '0')}`;
      const res = await ctx.deliver(drv, Buffer.from(JSON.stringify(base)));
      answers.push(res.status === 200 && res.json && res.json.status);
      for (const pid of procsOf(site.bin)) pids.add(pid);
    }
    eq(answers, Array(10).fill('applied'), `${tag}: ten deliveries across recycled processes all applied`);
    eq(await ctx.counts(), { users: 10, events: 10 }, `${tag}: ten rows, ten events, nothing twice`);
    ok(pids.size >= 3, `${tag}: processes were recycled (${pids.size} pids seen)`);
  } finally {
    await srv.close();
  }
}

async function apache(ctx, d, mode) {
  const tag = `apache ${mode === 'fcgid' ? 'mod_fcgid' : `${mode} only`}${mode === 'cgid' ? ', AllowOverride Options=ExecCGI' : ''}`;
  const { srv, site, vps } = await apacheSite(ctx, d, mode);
  try {
    const url = srv.url('/clerk/clerksync.fcgi');
    const drv = d.httpDriver(`apache-${mode}`, url, srv);
    eq((await d.get(srv.url('/index.html'))).status, 301, `${tag}: the site's own redirect rule is active (301)`);
    await deliveries(ctx, drv, `${tag} + htaccess.example`);

    if (mode === 'fcgid') {
      const live = procsOf(site.bin);
      ok(live.length >= 1, `${tag}: a persistent FastCGI process serves the endpoint (${live.length})`);
    } else {
      eq((await settledProcs(site.bin, 0)).length, 0, `${tag}: no process left between requests (plain CGI)`);
    }

    const get = await d.get(url);
    eq([get.status, get.json && get.json.error, get.headers.allow], [405, 'method_not_allowed', 'POST'], `${tag}: GET of the endpoint reaches the program (405, Allow: POST)`);
    await refused(d, srv.url('/clerk/clerksync.conf'), 'clerksync.conf', tag);
    await refused(d, srv.url('/clerk/clerksync.conf.bak'), 'clerksync.conf.bak', tag);
    await refused(d, srv.url('/clerk/notes.txt'), 'notes.txt', tag);
    await refused(d, srv.url('/clerk/.htaccess'), '.htaccess', tag);
    const listing = await d.get(srv.url('/clerk/'));
    ok(listing.status === 403 || listing.status === 404, `${tag}: no listing of the folder (got ${listing.status})`);
    ok(!/clerksync\.conf/.test(listing.raw), `${tag}: the folder answer names no file`);

    if (mode === 'fcgid') {
      // FcgidMaxRequestLen (128 KiB default) cannot be raised from .htaccess.
      const big = Buffer.alloc(200 * 1024, 'a');
      const res = await drv.send({ headers: signedHeaders(ctx.secret, big), body: big });
      eq(res.status, 500, `${tag}: a 200 KiB body is refused by mod_fcgid before the program (500, FcgidMaxRequestLen)`);

      const vurl = `http://127.0.0.1:${vps.port}/clerk/webhook`;
      const vdrv = d.httpDriver('apache-fcgid-vhost', vurl, { close() {} });
      await deliveries(ctx, vdrv, `${tag} + examples/apache-fcgid.conf (FcgidInitialEnv)`, { secret: vps.secret });
      const other = await ctx.deliver(vdrv, ctx.fixture('user.created.json'));
      ctx.expectAnswer(other, { status: 401, error: 'invalid_signature' }, `${tag} vhost: the config of FcgidInitialEnv is the one in use`);
      const bigv = await vdrv.send({ headers: signedHeaders(vps.secret, big), body: big });
      ctx.expectAnswer(bigv, { status: 400, error: 'invalid_payload' }, `${tag} vhost: FcgidMaxRequestLen of the example lets a 200 KiB body reach the program`);
      ok(procsOf(vps.bin).length >= 1, `${tag} vhost: persistent FastCGI process`);
    }

    if (site.setenv) await setenvCase(ctx, d, srv, site, mode, tag);
    if (site.noconf) {
      await ctx.reset();
      const nd = d.httpDriver(`apache-${mode}-noconf`, srv.url('/clerk-noconf/clerksync.fcgi'), { close() {} });
      const res = await ctx.deliver(nd, ctx.fixture('user.created.json'));
      ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `${tag}: no config anywhere: 503 unavailable`);
      let named = [];
      for (let i = 0; i < 20 && named.length === 0; i++) {
        named = srv.log().split('\n').filter((l) => /signing_secret/.test(l));
        if (named.length === 0) await sleep(50);
      }
      ok(named.length >= 1, `${tag}: no config anywhere: Apache's error log has the line naming signing_secret`);
      if (named.length) diag(`error log: ${named[0].slice(0, 240)}`);
      eq(await ctx.counts(), { users: 0, events: 0 }, `${tag}: no config anywhere: nothing written`);
    }

    // 403s log AH01630 "client denied by server configuration", and the
    // CGI stderr of clerk-noconf/ is its config line: both expected.
    const errs = srv.log().split('\n').filter((l) => /\[(\w+:)?(error|crit|alert|emerg)\]/.test(l) && !/AH01630|\/clerk-noconf\//.test(l));
    eq(errs.slice(0, 5), [], `${tag}: no other error in Apache's error log`);

    if (site.broken) {
      const res = await d.get(srv.url('/clerk-broken/clerksync.fcgi')).catch((e) => ({ status: 0, raw: e.message }));
      eq(res.status, 500, `${tag}: a program that cannot start gives 500`);
      await sleep(100);
      ok(/End of script output before headers/.test(srv.log()), `${tag}: ... and "End of script output before headers" in the error log`);
    }
  } finally {
    await stopAndCount(srv, [site.bin, vps && vps.bin, site.setenv && site.setenv.bin, site.noconf && site.noconf.bin], tag);
  }
}

// No module that runs programs: the binary must not be sent as a file.
async function apacheNone(ctx, d) {
  const tag = 'apache without mod_fcgid, mod_cgi, mod_cgid';
  const site = d.site('apache-none');
  const srv = await startApache({ dir: d.mkdir('apache-none', 'server'), docroot: site.docroot, modules: MODULES.none, user: d.user });
  ctx.logFiles.push(srv.errorLog);
  try {
    await ctx.reset();
    const drv = d.httpDriver('apache-none', srv.url('/clerk/clerksync.fcgi'), srv);
    const res = await ctx.deliver(drv, ctx.fixture('user.created.json'));
    eq(res.status, 403, `${tag}: a delivery is refused (403), not answered 200 with the binary`);
    ok(!res.raw.includes('ELF'), `${tag}: the binary is not sent`);
    eq(await ctx.counts(), { users: 0, events: 0 }, `${tag}: nothing written`);
    await refused(d, srv.url('/clerk/clerksync.conf'), 'clerksync.conf', tag);
  } finally {
    await stopAndCount(srv, [site.bin], tag);
  }
}

// The shared-hosting default: ~/clerksync.conf of the account the program
// runs as, nothing beside the binary, nothing in the environment.
async function apacheHome(ctx, d, mode) {
  const tag = `apache ${mode === 'fcgid' ? 'mod_fcgid' : `${mode} only`} + ~/clerksync.conf`;
  if (!canFakeHome()) {
    ok(true, `${tag} # SKIP needs root and unshare -m to give the server user a temp home`);
    return;
  }
  const name = `apache-${mode}-home`;
  const site = d.site(name, { besideConf: false });
  const home = d.mkdir(name, 'home');
  const secret = newSecret();
  d.config(path.join(home, 'clerksync.conf'), { signing_secret: secret });
  const srv = await startApache({
    dir: d.mkdir(name, 'server'), docroot: site.docroot, modules: MODULES[mode], user: d.user, home,
    extra: runtimeLines(d, name, mode),
  });
  ctx.logFiles.push(srv.errorLog);
  try {
    const drv = d.httpDriver(name, srv.url('/clerk/clerksync.fcgi'), srv);
    await deliveries(ctx, drv, tag, { secret });
  } finally {
    await stopAndCount(srv, [site.bin], tag);
  }
}

// SetEnv in .htaccess: the process environment under mod_cgi; a FastCGI
// request param under mod_fcgid (the binary must read it per request).
async function setenvCase(ctx, d, srv, site, mode, tag) {
  const url = srv.url('/clerk-setenv/clerksync.fcgi');
  const drv = d.httpDriver(`apache-${mode}-setenv`, url, { close() {} });
  await ctx.reset();
  const res = await ctx.deliver(drv, ctx.fixture('user.created.json'), { secret: site.setenv.secret });
  const good = ctx.expectAnswer(res, { status: 200, body: 'applied' },
    `${tag}: SetEnv CLERKSYNC_CONFIG in .htaccess reaches the program (${mode === 'fcgid' ? 'FastCGI param' : 'process environment'})`);
  if (!good) diag(`SetEnv case answer: ${res.status} ${res.raw.slice(0, 300)}`);
  else eq(await ctx.user(Z), expectedUser(JSON.parse(ctx.fixture('user.created.json')).data), `${tag}: SetEnv config, users row`);
}

// ------------------------------------------------------------ lighttpd

async function startLighttpdWith(d, name, snippetText) {
  const dir = d.mkdir(name);
  const docroot = d.mkdir(name, 'htdocs');
  const port = await freePort();
  const snippet = path.join(dir, 'clerksync.conf.inc');
  fs.writeFileSync(snippet, snippetText);
  const errorlog = path.join(dir, 'error.log');
  const conf = path.join(dir, 'lighttpd.conf');
  const q = JSON.stringify;
  fs.writeFileSync(conf, [
    `server.document-root = ${q(docroot)}`,
    'server.bind = "127.0.0.1"',
    `server.port = ${port}`,
    `server.errorlog = ${q(errorlog)}`,
    `server.upload-dirs = ( ${q(dir)} )`,
    process.getuid() === 0 ? `server.username = ${q(d.user.name)}` : '',
    process.getuid() === 0 ? `server.groupname = ${q(d.user.group || d.user.name)}` : '',
    `include ${q(snippet)}`,
    '',
  ].join('\n'));
  const { child } = await startServer(need('lighttpd'), ['-D', '-f', conf], {
    port, what: 'lighttpd', log: () => readLog(errorlog),
  });
  d.ctx.logFiles.push(errorlog);
  let closed = false;
  return {
    child, port, errorlog, dir,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    async close() {
      if (closed) return;
      closed = true;
      await terminate(child, { timeout: 10000 });
    },
  };
}

async function lighttpd(ctx, d, kind) {
  const name = `lighttpd-${kind}`;
  const tag = `examples/lighttpd-${kind}.conf`;
  const lib = d.mkdir(name, 'lib');
  const bin = d.copyBin(lib);
  const conf = d.config(path.join(d.mkdir(name, 'etc'), 'clerksync.conf'));
  const values = { BIN: bin, CONF: conf };
  if (kind === 'fastcgi') values.SOCKET = path.join(d.mkdir(name, 'run'), 'clerksync.sock');
  const srv = await startLighttpdWith(d, name, fromExample(path.join(d.examples, `lighttpd-${kind}.conf`), values));
  try {
    const drv = d.httpDriver(name, srv.url('/clerk/webhook'), srv);
    await deliveries(ctx, drv, tag);
    const live = await settledProcs(bin, kind === 'fastcgi' ? 2 : 0);
    if (kind === 'fastcgi') eq(live.length, 2, `${tag}: max-procs 2 FastCGI processes`);
    else eq(live.length, 0, `${tag}: no process left between requests (CGI)`);
    const get = await d.get(srv.url('/clerk/webhook'));
    eq(get.status, 405, `${tag}: GET reaches the program (405)`);
  } finally {
    await srv.close();
    await waitFor(() => procsOf(bin).length === 0, { timeout: 5000, what: 'lighttpd backends gone' }).catch(() => {});
    eq(procsOf(bin), [], `${tag}: no clerksync process left after lighttpd stops`);
  }
}

// --------------------------------------------------------------- nginx

async function nginx(ctx, d) {
  const tag = 'examples/nginx.conf + spawn-fcgi.sh';
  const dir = d.mkdir('nginx');
  const bin = d.copyBin(d.mkdir('nginx', 'lib'));
  const conf = d.config(path.join(d.mkdir('nginx', 'etc'), 'clerksync.conf'));
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir, { mode: 0o755 });
  const socket = path.join(runDir, 'clerksync.sock');
  const web = d.user.name;
  const script = path.join(dir, 'spawn-fcgi.sh');
  fs.writeFileSync(script, fromExample(path.join(d.examples, 'spawn-fcgi.sh'),
    { BIN: bin, CONF: conf, SOCKET: socket, USER: d.user.name, WEBUSER: web }), { mode: 0o755 });
  const errFile = path.join(dir, 'spawn-fcgi.stderr');
  const err = fs.openSync(errFile, 'a');
  const app = spawnTracked('/bin/sh', [script], { env: { PATH: process.env.PATH }, stdio: ['ignore', err, err], detached: true });
  fs.closeSync(err);
  ctx.logFiles.push(errFile);
  let srv = null;
  try {
    let dead = false;
    exited(app).then(() => {
      dead = true;
    });
    await waitFor(async () => dead || (fs.existsSync(socket) && (await canConnect({ path: socket }))), { what: `spawn-fcgi socket ${socket}` });
    if (dead) throw new Error(`spawn-fcgi.sh exited: ${fs.readFileSync(errFile, 'utf8')}`);
    const st = fs.statSync(socket);
    eq([st.mode & 0o777, st.uid], [0o600, d.user.uid], `${tag}: socket mode 0600, owned by the web server's user`);
    if (process.getuid() === 0) {
      const uid = Number(fs.readFileSync(`/proc/${app.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)[1]);
      eq(uid, d.user.uid, `${tag}: clerksync runs as @USER@, not root`);
    }
    const port = await freePort();
    srv = await startNginx({
      dir: path.join(dir, 'server'),
      user: d.user,
      serverBlock: fromExample(path.join(d.examples, 'nginx.conf'), { LISTEN: `127.0.0.1:${port}`, SOCKET: socket }),
      port,
    });
    ctx.logFiles.push(srv.errorLog);
    const drv = d.httpDriver('nginx', srv.url('/clerk/webhook'), srv);
    await deliveries(ctx, drv, tag);
    eq(procsOf(bin), [app.pid], `${tag}: one persistent process (the pid spawn-fcgi.sh started)`);
    const other = await d.get(srv.url('/clerk/clerksync.conf'));
    eq(other.status, 404, `${tag}: nothing but the endpoint is served (404)`);
  } finally {
    if (srv) await srv.close();
    await terminate(app, { timeout: 10000 });
    eq(procsOf(bin), [], `${tag}: clerksync stopped by pid`);
  }
}

// ----------------------------------------------------------------- PHP

async function php(ctx, d) {
  const tag = 'examples/php/users.php';
  const phpBin = which('php');
  if (!ok(!!phpBin, `${tag}: php-cli installed`)) return;
  const { db } = ctx;
  await ctx.reset();
  const cgi = ctx.cgi;
  ctx.expectAnswer(await ctx.deliver(cgi, ctx.fixture('user.created.json')), { status: 200, body: 'applied' }, `${tag}: user created`);
  ctx.expectAnswer(await ctx.deliver(cgi, ctx.fixture('user.created.username-only.json')), { status: 200, body: 'applied' }, `${tag}: second user created`);
  await db.query("UPDATE users SET birthday = '1990-04-01', country = 'NO', bio = 'Skier; writes C.' WHERE clerk_id = ?", [Z]);
  await db.query("UPDATE users SET country = 'PL' WHERE clerk_id = ?", [J]);
  ctx.expectAnswer(await ctx.deliver(cgi, ctx.fixture('user.updated.json')), { status: 200, body: 'applied' }, `${tag}: user updated`);
  ctx.expectAnswer(await ctx.deliver(cgi, ctx.fixture('user.deleted.external-id.json')), { status: 200, body: 'applied' }, `${tag}: second user deleted`);

  const upd = JSON.parse(ctx.fixture('user.updated.json')).data;
  const want = [{
    clerk_id: Z,
    email: expectedUser(upd).email,
    username: upd.username ?? null,
    first_name: upd.first_name,
    last_name: upd.last_name,
    public_metadata: upd.public_metadata,
    birthday: '1990-04-01',
    country: 'NO',
    bio: 'Skier; writes C.',
  }];
  const script = path.join(d.examples, 'php', 'users.php');
  const parse = (out) => out.split('\n').filter(Boolean).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return { unparsable: l };
    }
  });
  const env = {
    PATH: process.env.PATH,
    DB_HOST: '127.0.0.1',
    DB_PORT: String(db.port),
    DB_DATABASE: db.database,
    DB_USERNAME: db.user,
    DB_PASSWORD: db.password,
  };
  const r = await runCmd(phpBin, [script], { env });
  eq(r.code, 0, `${tag}: exits 0 (settings from the environment)`);
  if (r.code !== 0) diag(r.stderr);
  eq(parse(r.stdout), want, `${tag}: one JSON line per live user with the app's columns; the deleted user is not listed`);

  const ini = path.join(d.mkdir('php'), 'db.ini');
  fs.writeFileSync(ini, `dsn = "mysql:unix_socket=${db.socket};dbname=${db.database};charset=utf8mb4"\nusername = ${db.user}\npassword = "${db.password}"\n`, { mode: 0o600 });
  const r2 = await runCmd(phpBin, [script, ini], { env: { PATH: process.env.PATH } });
  eq([r2.code, parse(r2.stdout)], [0, want], `${tag}: same output with settings from an ini file (socket DSN)`);
  const r3 = await runCmd(phpBin, [script], { env: { ...env, DB_PASSWORD: 'wrong' } });
  ok(r3.code === 1 && /database:/.test(r3.stderr) && !r3.stdout, `${tag}: a wrong password is one line on stderr, exit 1`);

  // members.php: the live members of an organization, with their users.
  const mtag = 'examples/php/members.php';
  const members = path.join(d.examples, 'php', 'members.php');
  for (const f of ['organization.updated.json', 'organizationMembership.created.creator.json', 'organizationMembership.created.json']) {
    ctx.expectAnswer(await ctx.deliver(cgi, ctx.fixture(f)), { status: 200, body: 'applied' }, `${mtag}: ${f} applied`);
  }
  const creator = JSON.parse(ctx.fixture('organizationMembership.created.creator.json')).data;
  const member = JSON.parse(ctx.fixture('organizationMembership.created.json')).data;
  const wantMembers = [
    { user_clerk_id: Z, email: expectedUser(upd).email, first_name: upd.first_name, last_name: upd.last_name, role: 'org:admin', permissions: creator.permissions },
    { user_clerk_id: member.public_user_data.user_id, email: null, first_name: null, last_name: null, role: 'org:member', permissions: member.permissions },
  ];
  const m1 = await runCmd(phpBin, [members, creator.organization.id], { env });
  eq([m1.code, parse(m1.stdout)], [0, wantMembers], `${mtag}: by organization id, oldest first; a member clerksync has no user row for has null user columns`);
  if (m1.code !== 0) diag(m1.stderr);
  const m2 = await runCmd(phpBin, [members, 'cafe-nandu-roastery', ini], { env: { PATH: process.env.PATH } });
  eq([m2.code, parse(m2.stdout)], [0, wantMembers], `${mtag}: by slug, settings from the ini file`);
  ctx.expectAnswer(await ctx.deliver(cgi, ctx.fixture('organizationMembership.deleted.json')), { status: 200, body: 'applied' }, `${mtag}: membership deleted`);
  const m3 = await runCmd(phpBin, [members, creator.organization.id], { env });
  eq([m3.code, parse(m3.stdout)], [0, wantMembers.slice(0, 1)], `${mtag}: an ended membership is not listed`);
}

// --------------------------------------------------- check and migrate

async function subcommands(ctx, d) {
  const tag = 'subcommands';
  const help = await runCmd(ctx.bin, ['--help'], { env: { PATH: process.env.PATH } });
  const has = (w) => new RegExp(`\\b${w}\\b`).test(help.stdout + help.stderr);
  if (!has('check') || !has('migrate')) {
    ok(false, `${tag}: \`${path.basename(ctx.bin)} --help\` lists check and migrate (not built yet)`);
    diag(help.stdout + help.stderr);
  }
  const { db } = ctx;
  const run = (args, conf, extra = {}) => runCmd(ctx.bin, args, { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: conf, ...extra } });
  const said = (r) => `${r.stdout}${r.stderr}`;
  const secrets = [ctx.secret, ctx.secret.slice(6), db.password];
  const clean = (r) => !secrets.some((s) => said(r).includes(s));

  // Connection settings as a shell user has them: the local socket.
  const good = ctx.config({ log_file: null });
  const okRun = await run(['check'], good);
  eq(okRun.code, 0, `${tag}: check on a good config and a migrated database exits 0`);
  if (okRun.code !== 0) diag(said(okRun));

  const wrong = 'N0tThePassw0rd-' + Date.now();
  ctx.extraSecrets = [...(ctx.extraSecrets || []), wrong];
  const badPw = await run(['check'], ctx.config({ db_password: wrong, log_file: null }));
  ok(badPw.code === 1 && /db_password|access denied/i.test(said(badPw)),
    `${tag}: check with a wrong db_password exits 1 and names db_password or "access denied" (exit ${badPw.code})`);
  ok(!said(badPw).includes(wrong) && clean(badPw), `${tag}: check does not print the password`);
  if (badPw.code !== 1) diag(said(badPw));

  const noSecret = await run(['check'], ctx.config({ signing_secret: null, log_file: null }));
  ok(noSecret.code === 1 && /signing_secret/.test(said(noSecret)), `${tag}: check without signing_secret exits 1 and names signing_secret (exit ${noSecret.code})`);

  const badSecret = await run(['check'], ctx.config({ signing_secret: 'whsec_***not-base64***', log_file: null }));
  ok(badSecret.code === 1 && /signing_secret/.test(said(badSecret)), `${tag}: check with a secret that is not base64 exits 1 and names signing_secret (exit ${badSecret.code})`);

  // A database that does not exist: the connection is what fails.
  const noDb = await run(['check'], ctx.config({ db_name: 'clerksync_nosuchdb', log_file: null }));
  ok(noDb.code === 1 && /^database: connect \(check db_name and its grants\): 10\d\d /m.test(noDb.stdout) && !/^schema:/m.test(noDb.stdout),
    `${tag}: check on a database that does not exist exits 1 and names db_name (exit ${noDb.code})`);
  if (noDb.code !== 1) diag(said(noDb));
  const noDbMigrate = await run(['migrate'], ctx.config({ db_name: 'clerksync_nosuchdb', log_file: null }));
  ok(noDbMigrate.code === 1 && /^migrate: connect \(check db_name/m.test(noDbMigrate.stdout),
    `${tag}: migrate there exits 1 and says so (exit ${noDbMigrate.code})`);
  const noConfMigrate = await run(['migrate'], ctx.config({ signing_secret: null, log_file: null }));
  ok(noConfMigrate.code === 1 && /^config: signing_secret/m.test(noConfMigrate.stdout),
    `${tag}: migrate with a broken config exits 1 and names the key (exit ${noConfMigrate.code})`);

  // The command line.
  const version = await run(['--version'], good);
  ok(version.code === 0 && /^clerksync \d+\.\d+\.\d+$/m.test(version.stdout), `${tag}: --version prints the version`);
  const unknown = await run(['frobnicate'], good);
  ok(unknown.code === 2 && /usage: /.test(unknown.stderr), `${tag}: an unknown subcommand exits 2 with the usage (exit ${unknown.code})`);
  const extra = await run(['check', 'now'], good);
  eq(extra.code, 2, `${tag}: check takes no argument: exit 2`);
  const badArg = await run(['reconcile', '--frobnicate'], good);
  ok(badArg.code === 2 && /--frobnicate/.test(badArg.stderr) && /usage: /.test(badArg.stderr),
    `${tag}: reconcile --frobnicate exits 2 and names the argument (exit ${badArg.code})`);

  // A fresh, empty database.
  const grant = async (name) => {
    await db.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await db.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    for (const host of ['localhost', '127.0.0.1']) await db.query(`GRANT ALL ON \`${name}\`.* TO ?@?`, [db.user, host]);
  };
  const tables = async (name) => (await db.query(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [name])).map((r) => r.t).sort();
  try {
    await grant('clerksync_empty');
    const emptyConf = ctx.config({ db_name: 'clerksync_empty', log_file: null });
    const before = await run(['check'], emptyConf);
    ok(before.code === 1 && /schema|migrate|users/i.test(said(before)), `${tag}: check on an empty database exits 1 and says the schema is missing (exit ${before.code})`);
    const m1 = await run(['migrate'], emptyConf);
    eq(m1.code, 0, `${tag}: migrate on an empty database exits 0`);
    if (m1.code !== 0) diag(said(m1));
    eq(await tables('clerksync_empty'),
      ['clerk_webhook_events', 'clerksync_api_budget', 'clerksync_backfill', 'clerksync_schema', 'organization_memberships', 'organizations', 'users'],
      `${tag}: migrate created the seven tables`);
    const after = await run(['check'], emptyConf);
    eq(after.code, 0, `${tag}: check after migrate exits 0`);
    if (after.code !== 0) diag(said(after));
    const m2 = await run(['migrate'], emptyConf);
    eq(m2.code, 0, `${tag}: migrate a second time exits 0`);
    const versions = await db.query('SELECT version FROM clerksync_empty.clerksync_schema ORDER BY version').catch(() => []);
    eq(versions.map((v) => Number(v.version)), [1, 2, 3, 4], `${tag}: each schema version is recorded once`);
    ok([m1, m2, after, before].every(clean), `${tag}: no secret or password in any subcommand output`);

    // An existing table the app has extended.
    await grant('clerksync_extended');
    db.sql(fs.readFileSync(path.join(ctx.schema, '001_init.sql')), 'clerksync_extended', '001_init.sql');
    await db.query('ALTER TABLE clerksync_extended.users ADD COLUMN nickname VARCHAR(50)');
    await db.query("INSERT INTO clerksync_extended.users (clerk_id, nickname, country) VALUES ('user_kept', 'Kit', 'SE')");
    const extConf = ctx.config({ db_name: 'clerksync_extended', log_file: null });
    // A version 1 database: check says which version and what to run.
    const v1 = await run(['check'], extConf);
    ok(v1.code === 1 && /version 1, expected 4/.test(said(v1)) && /migrate/.test(said(v1)),
      `${tag}: check on a version 1 database exits 1 and says to run migrate (exit ${v1.code})`);
    const m3 = await run(['migrate'], extConf);
    eq(m3.code, 0, `${tag}: migrate on an existing users table with an added column exits 0`);
    const kept = await db.query("SELECT nickname, country FROM clerksync_extended.users WHERE clerk_id = 'user_kept'").catch(() => []);
    eq(kept.map((r) => [r.nickname, r.country]), [['Kit', 'SE']], `${tag}: migrate keeps the added column and the app's data`);
    const upgraded = await db.query('SELECT version FROM clerksync_extended.clerksync_schema ORDER BY version').catch(() => []);
    eq(upgraded.map((v) => Number(v.version)), [1, 2, 3, 4], `${tag}: migrate upgrades version 1 to 4`);
    eq((await run(['check'], extConf)).code, 0, `${tag}: check on the extended table exits 0`);

    // table_prefix: migrate puts it before every table name.
    await grant('clerksync_prefixed');
    const preConf = ctx.config({ db_name: 'clerksync_prefixed', table_prefix: 'cs_', log_file: null });
    const m4 = await run(['migrate'], preConf);
    eq([m4.code, await tables('clerksync_prefixed')],
      [0, ['cs_clerk_webhook_events', 'cs_clerksync_api_budget', 'cs_clerksync_backfill', 'cs_clerksync_schema', 'cs_organization_memberships', 'cs_organizations', 'cs_users']],
      `${tag}: migrate with table_prefix = cs_ creates the prefixed tables`);
    eq((await run(['check'], preConf)).code, 0, `${tag}: check with table_prefix exits 0`);
    // At the current version, a column gone: check names the statement.
    await db.query('ALTER TABLE clerksync_prefixed.cs_organizations DROP COLUMN slug');
    const noCol = await run(['check'], ctx.config({ db_name: 'clerksync_prefixed', table_prefix: 'cs_', log_file: null, events: 'users organizations' }));
    ok(noCol.code === 1 && /^database: connected/m.test(noCol.stdout) && /^schema: tables \(run migrate, check table_prefix\): 1054 .*slug/m.test(noCol.stdout),
      `${tag}: check with a column missing exits 1 and names it (exit ${noCol.code})`);
    if (noCol.code !== 1) diag(said(noCol));
    const usersOnly = await run(['check'], ctx.config({ db_name: 'clerksync_prefixed', table_prefix: 'cs_', log_file: null, events: 'users' }));
    eq(usersOnly.code, 0, `${tag}: with events = users, organizations are not checked`);
  } finally {
    await db.query('DROP DATABASE IF EXISTS clerksync_prefixed');
    await db.query('DROP DATABASE IF EXISTS clerksync_empty');
    await db.query('DROP DATABASE IF EXISTS clerksync_extended');
  }
}

// ---------------------------------------------------------------- entry

export async function run(ctx) {
  const started = Date.now();
  const d = new Deploy(ctx);
  const fcgid = hasModule('fcgid');
  const missing = [
    !apacheBinary() && 'apache2 (package apache2)',
    !fcgid && 'mod_fcgid (package libapache2-mod-fcgid)',
    !which('nginx') && 'nginx (package nginx-light)',
    !which('php') && 'php (packages php-cli php-mysql)',
  ].filter(Boolean);
  ok(missing.length === 0, `deploy: tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`);

  if (apacheBinary()) {
    if (fcgid) await test('deploy: apache mod_fcgid', () => apache(ctx, d, 'fcgid'));
    if (fcgid) await test('deploy: apache mod_fcgid, ~/clerksync.conf', () => apacheHome(ctx, d, 'fcgid'));
    if (fcgid) await test('deploy: apache mod_fcgid recycling processes', () => apacheRecycle(ctx, d));
    await test('deploy: apache mod_cgi only', () => apache(ctx, d, 'cgi'));
    await test('deploy: apache mod_cgi only, ~/clerksync.conf', () => apacheHome(ctx, d, 'cgi'));
    await test('deploy: apache mod_cgid only', () => apache(ctx, d, 'cgid'));
    await test('deploy: apache without a CGI module', () => apacheNone(ctx, d));
  }
  await test('deploy: lighttpd mod_fastcgi example', () => lighttpd(ctx, d, 'fastcgi'));
  await test('deploy: lighttpd mod_cgi example', () => lighttpd(ctx, d, 'cgi'));
  if (which('nginx')) await test('deploy: nginx + spawn-fcgi example', () => nginx(ctx, d));
  await test('deploy: php example', () => php(ctx, d));
  await test('deploy: check and migrate', () => subcommands(ctx, d));
  diag(`deployment cases took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
