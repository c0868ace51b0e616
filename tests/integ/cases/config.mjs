import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { canFakeHome } from '../../lib/apache.mjs';
import { cgiDriver } from '../../lib/drivers.mjs';
import { which } from '../../lib/procs.mjs';
import { newSecret, signedHeaders } from '../../lib/sign.mjs';
import { diag, eq, ok, test } from '../../lib/tap.mjs';

function linesNaming(file, key) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(key));
}

export async function run(ctx) {
  const body = ctx.fixture('user.created.json');
  const bad = [
    { name: 'missing signing_secret', key: 'signing_secret', conf: { signing_secret: null } },
    { name: 'unknown key', key: 'frobnicate', conf: { frobnicate: 'yes' } },
    { name: 'max_body not a number', key: 'max_body', conf: { max_body: 'lots' } },
    { name: 'timestamp_tolerance not a number', key: 'timestamp_tolerance', conf: { timestamp_tolerance: 'soon' } },
    { name: 'keep_deleted_data not on/off', key: 'keep_deleted_data', conf: { keep_deleted_data: 'perhaps' } },
  ];
  for (const c of bad) {
    await test(`config: ${c.name} [cgi]`, async () => {
      const log = ctx.logPath(`config-${c.key}`);
      const cgi = ctx.cgiDriver({ conf: ctx.config({ ...c.conf, log_file: log }) });
      await ctx.reset();
      const res = await ctx.deliver(cgi, body);
      ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `config ${c.name} [cgi]: 503 unavailable`);
      eq(await ctx.counts(), { users: 0, events: 0 }, `config ${c.name} [cgi]: no database change`);
      const lines = linesNaming(log, c.key);
      ok(lines.length === 1, `config ${c.name} [cgi]: one log line naming ${c.key} (got ${lines.length})`);
      if (lines.length !== 1 && fs.existsSync(log)) diag(fs.readFileSync(log, 'utf8'));
    });
  }

  await test('config: missing signing_secret [fcgi]', async () => {
    const log = ctx.logPath('config-fcgi');
    const d = await ctx.fcgiDriver({ conf: ctx.config({ signing_secret: null, log_file: log }), name: 'fcgi-badconf' });
    try {
      await ctx.reset();
      for (let i = 1; i <= 3; i++) {
        const res = await ctx.deliver(d, body);
        ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `config missing signing_secret [fcgi]: request ${i} 503 unavailable`);
      }
      ok(d.alive, 'config missing signing_secret [fcgi]: process keeps running');
      ok(linesNaming(log, 'signing_secret').length >= 1, 'config missing signing_secret [fcgi]: log names signing_secret');
      eq(await ctx.counts(), { users: 0, events: 0 }, 'config missing signing_secret [fcgi]: no database change');
    } finally {
      await d.close();
    }
  });

  await test('config: wrong db_password', async () => {
    const log = ctx.logPath('config-dbpass');
    const wrong = 'Wr0ngPassw0rd-' + Date.now();
    ctx.extraSecrets = [...(ctx.extraSecrets || []), wrong];
    const cgi = ctx.cgiDriver({ conf: ctx.config({ db_password: wrong, log_file: log }) });
    const res = await ctx.deliver(cgi, body);
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, 'wrong db_password: 503 unavailable');
    ok(fs.existsSync(log) && fs.readFileSync(log, 'utf8').length > 0, 'wrong db_password: logged');
  });

  await test('config: CLERKSYNC_CONFIG points to a missing file', async () => {
    const missing = path.join(ctx.dir, 'does-not-exist.conf');
    const cgi = ctx.cgiDriver({ conf: missing });
    const res = await cgi.send({ headers: signedHeaders(ctx.secret, body), body });
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, 'missing config file: 503 unavailable');
    ok(res.stderr.includes(`cannot read ${missing}: No such file or directory (as user `),
      `missing config file: the log line names the path, the reason and the user (${res.stderr.trim()})`);
  });

  // Issue 15: a line the parser refuses is logged by its key, never with
  // a byte of what follows the key.
  await test('config: a refused line is logged without its value', async () => {
    const log = ctx.logPath('config-colon');
    const conf = ctx.config({ log_file: log });
    fs.appendFileSync(conf, 'db_password: S3cr3tPa55=x\n');
    const res = await ctx.deliver(ctx.cgiDriver({ conf }), body);
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, 'db_password: ...: 503 unavailable');
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    ok(/db_password: expected '=' after the key/.test(text), 'db_password: ...: the log names the key');
    ok(!text.includes('S3cr3t') && !text.includes('Pa55'), 'db_password: ...: no part of the value in the log');
  });

  // Issue 14: what the README shows, with a comment after each value.
  await test('config: comments after values [cgi]', async () => {
    const log = ctx.logPath('config-comments');
    const conf = path.join(ctx.dir, 'comments.conf');
    const b = ctx.baseConfig();
    fs.writeFileSync(conf, [
      `signing_secret = ${b.signing_secret}   # from the dashboard`,
      `db_socket      = ${b.db_socket}\t# the server's socket`,
      `db_user        = ${b.db_user} # the user`,
      `db_password    = "${b.db_password}"  # quoted, as a password may hold " #"`,
      `db_name        = ${b.db_name}   # the database`,
      `log_file       = ${log}  # optional`,
      '',
    ].join('\n'), { mode: 0o600 });
    await ctx.reset();
    const res = await ctx.deliver(ctx.cgiDriver({ conf }), body);
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'comments after values: 200 applied');
    eq(await ctx.counts(), { users: 1, events: 1 }, 'comments after values: the row and the event are written');
    ok(fs.existsSync(log) && fs.statSync(log).size > 0, 'comments after values: log_file is the path without its comment');
  });

  await test('config: a log_file that cannot be opened is named with the reason [cgi]', async () => {
    const bad = path.join(ctx.dir, 'no-such-dir', 'clerksync.log');
    await ctx.reset();
    const res = await ctx.deliver(ctx.cgiDriver({ conf: ctx.config({ log_file: `${bad}   # optional` }) }), body);
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'unopenable log_file: the delivery is still applied');
    ok(res.stderr.includes(`log_file: cannot open ${bad}: No such file or directory; logging to stderr`),
      `unopenable log_file: stderr names the path and the reason (${res.stderr.split('\n')[0]})`);
  });

  await test('config: a file that cannot be read says so [check]', async () => {
    const setpriv = which('setpriv');
    if (process.getuid() !== 0 || !setpriv) {
      ok(true, 'config unreadable # SKIP needs root and setpriv to run as another user');
      return;
    }
    const conf = ctx.config({});
    fs.chmodSync(conf, 0o600);
    const r = await runCmd(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', ctx.bin, 'check'],
      { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: conf } });
    eq(r.code, 1, 'config unreadable: check exits 1');
    ok(r.stdout.includes(`cannot read ${conf}: Permission denied (as user `) && r.stdout.includes('uid 65534'),
      `config unreadable: Permission denied, the path and the user (${r.stdout.trim()})`);
  });

  await outOfMemory(ctx, body);
  await endpoints(ctx, body);
  await readmeBlocks(ctx);
}

// Issue 16: out of memory while a persistent process re-reads its config
// for a request is a 503 and a log line, and the process goes on. A
// preloaded malloc refuses the config file's buffer (CONFIG_FILE_MAX + 1
// bytes) while a flag file exists.
async function outOfMemory(ctx, body) {
  const tag = 'config: out of memory during the reload [fcgi]';
  const cc = which('cc');
  if (!cc || process.env.CLERKSYNC_WRAP || fs.readFileSync(ctx.bin).includes('__asan_init')) {
    ok(true, `${tag} # SKIP needs cc, and a binary that is not under a sanitizer or wrapper`);
    return;
  }
  const src = path.join(ctx.dir, 'oom.c');
  const so = path.join(ctx.dir, 'oom.so');
  const flag = path.join(ctx.dir, 'oom.flag');
  fs.writeFileSync(src, [
    '#include <stdlib.h>',
    '#include <unistd.h>',
    'extern void *__libc_malloc(size_t);',
    'void *malloc(size_t n) {',
    '\tconst char *f = getenv("OOM_FLAG");',
    '\tif (n == 65536 + 1 && f != NULL && access(f, F_OK) == 0) return NULL;',
    '\treturn __libc_malloc(n);',
    '}',
    '',
  ].join('\n'));
  const built = await runCmd(cc, ['-shared', '-fPIC', '-O1', '-o', so, src], { env: { PATH: process.env.PATH } });
  if (!ok(built.code === 0, `${tag}: the preload builds (${built.stderr.trim()})`)) return;
  fs.writeFileSync(flag, '');
  await test(tag, async () => {
    const d = await ctx.fcgiDriver({ env: { LD_PRELOAD: so, OOM_FLAG: flag }, name: 'fcgi-oom' });
    const stderr = path.join(ctx.dir, `${path.basename(d.socket, '.sock')}.stderr`);
    try {
      await ctx.reset();
      for (let i = 1; i <= 2; i++) {
        const res = await ctx.deliver(d, body);
        ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `${tag}: request ${i} 503 unavailable`);
      }
      const lines = fs.readFileSync(stderr, 'utf8').split('\n').filter((l) => l.includes('out of memory'));
      ok(lines.length >= 2 && lines.every((l) => l.includes(ctx.conf)), `${tag}: each 503 logs out of memory, with the file (${lines[0]})`);
      ok(d.alive, `${tag}: the process keeps running`);
      fs.rmSync(flag);
      const res = await ctx.deliver(d, body);
      ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: memory back, the next request reloads and applies`);
    } finally {
      await d.close();
    }
  });
}

function runCmd(cmd, args, { env, timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// A copy of the binary in dir, run with home as the home directory of
// the user it runs as (a private /etc/passwd in a mount namespace), and
// nothing about its config in the environment: as Apache's suEXEC runs it.
function endpointBinary(ctx, dir, home) {
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'clerksync.fcgi');
  fs.copyFileSync(ctx.bin, bin);
  fs.chmodSync(bin, 0o755);
  const passwd = path.join(path.dirname(dir), `passwd-${path.basename(dir)}`);
  fs.writeFileSync(passwd, fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => {
    const f = l.split(':');
    if (f.length === 7 && Number(f[2]) === process.getuid()) f[5] = home;
    return f.join(':');
  }).join('\n'), { mode: 0o644 });
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const run = path.join(path.dirname(dir), `run-${path.basename(dir)}.sh`);
  fs.writeFileSync(run, `#!/bin/sh\nexec ${q(which('unshare'))} -m --propagation private /bin/sh -c 'mount --bind "$0" /etc/passwd && exec "$@"' ${q(passwd)} ${q(bin)} "$@"\n`, { mode: 0o755 });
  return { bin, run, driver: ctx.wrap(cgiDriver({ bin: run, env: {}, dir: ctx.dir })) };
}

// Two endpoints under one account (production and staging): two folders,
// each with its own ~/clerksync-FOLDER.conf, and two databases. The plain
// ~/clerksync.conf is there too, with a secret that signs nothing.
async function endpoints(ctx, body) {
  const tag = 'two endpoints under one account';
  if (!canFakeHome()) {
    ok(true, `${tag} # SKIP needs root and unshare -m to give the program a temp home`);
    return;
  }
  const base = path.join(ctx.dir, 'account');
  const home = path.join(base, 'home');
  fs.mkdirSync(home, { recursive: true });
  const prod = endpointBinary(ctx, path.join(base, 'public_html', 'clerk'), home);
  const staging = endpointBinary(ctx, path.join(base, 'public_html', 'clerk-staging'), home);
  const stagingDb = 'clerksync_staging';
  const c = await ctx.db.rootConnection();
  try {
    await c.query(`CREATE DATABASE IF NOT EXISTS \`${stagingDb}\` CHARACTER SET utf8mb4`);
    for (const host of ['localhost', '127.0.0.1']) {
      await c.query(`GRANT ALL ON \`${stagingDb}\`.* TO ?@?`, [ctx.db.user, host]);
    }
  } finally {
    await c.end();
  }
  const stagingSecret = newSecret();
  const prodLog = ctx.logPath('endpoint-prod');
  const stagingLog = ctx.logPath('endpoint-staging');
  const write = (file, lines) => fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  const b = ctx.baseConfig();
  write(path.join(home, 'clerksync-clerk.conf'), [
    `signing_secret = ${ctx.secret}   # production's endpoint`,
    `db_socket = ${b.db_socket}`, `db_user = ${b.db_user}`, `db_password = ${b.db_password}`,
    `db_name = ${b.db_name}   # production's database`, `log_file = ${prodLog}`,
  ]);
  write(path.join(home, 'clerksync-clerk-staging.conf'), [
    `signing_secret = ${stagingSecret}   # staging's endpoint`,
    `db_socket = ${b.db_socket}`, `db_user = ${b.db_user}`, `db_password = ${b.db_password}`,
    `db_name = ${stagingDb}   # staging's database`, `log_file = ${stagingLog}`,
  ]);
  write(path.join(home, 'clerksync.conf'), [`signing_secret = ${newSecret()}`, 'db_user = nobody', 'db_name = nothing']);
  ctx.extraSecrets = [...(ctx.extraSecrets || []), stagingSecret];

  await test(`config: ${tag}`, async () => {
    const env = { PATH: process.env.PATH, LANG: 'C' };
    const m = await runCmd(staging.run, ['migrate'], { env });
    eq(m.code, 0, `${tag}: migrate from the staging folder creates staging's tables (${m.stdout.trim()})`);
    for (const [name, ep, file] of [['production', prod, 'clerksync-clerk.conf'], ['staging', staging, 'clerksync-clerk-staging.conf']]) {
      const r = await runCmd(ep.run, ['check'], { env });
      ok(r.stdout.startsWith(`config: ${path.join(home, file)} (read as user `),
        `${tag}: check in the ${name} folder reads ~/${file} (${r.stdout.split('\n')[0]})`);
      eq(r.code, 0, `${tag}: check in the ${name} folder says ok`);
    }
    await ctx.reset();
    const stagingUsers = async () => {
      const conn = await ctx.db.rootConnection(stagingDb);
      try {
        const [u] = await conn.query('SELECT COUNT(*) AS n FROM users');
        const [e] = await conn.query('SELECT COUNT(*) AS n FROM clerk_webhook_events');
        return { users: Number(u[0].n), events: Number(e[0].n) };
      } finally {
        await conn.end();
      }
    };
    let res = await ctx.deliver(prod.driver, body);
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: production's delivery is applied`);
    res = await ctx.deliver(staging.driver, body, { secret: stagingSecret });
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: staging's delivery is applied`);
    res = await ctx.deliver(staging.driver, body);
    ctx.expectAnswer(res, { status: 401, error: 'invalid_signature' }, `${tag}: production's secret does not sign for staging`);
    res = await ctx.deliver(prod.driver, body, { secret: stagingSecret });
    ctx.expectAnswer(res, { status: 401, error: 'invalid_signature' }, `${tag}: staging's secret does not sign for production`);
    eq(await ctx.counts(), { users: 1, events: 1 }, `${tag}: production's database has production's delivery only`);
    eq(await stagingUsers(), { users: 1, events: 1 }, `${tag}: staging's database has staging's delivery only`);
    ok(fs.existsSync(stagingLog) && fs.readFileSync(stagingLog, 'utf8').includes('outcome=applied'), `${tag}: staging logs to its own log_file`);
  });

  await test('config: no file found, the log line says where it looked and as whom', async () => {
    const empty = path.join(base, 'empty-home');
    fs.mkdirSync(empty, { recursive: true });
    const dir = path.join(base, 'public_html', 'clerk-nowhere');
    const ep = endpointBinary(ctx, dir, empty);
    const res = await ctx.deliver(ep.driver, body);
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, 'no config file: 503 unavailable');
    const places = [path.join(empty, 'clerksync-clerk-nowhere.conf'), path.join(empty, 'clerksync.conf'), path.join(dir, 'clerksync.conf')];
    const line = res.stderr.split('\n').find((l) => l.includes('signing_secret: not set')) || '';
    ok(line.includes(`looked for ${places.join(', ')} as user `) && /uid \d+\)/.test(line),
      `no config file: the log line lists ${places.length} places and the user (${line})`);
    const r = await runCmd(ep.run, ['check'], { env: { PATH: process.env.PATH } });
    ok(r.code === 1 && r.stdout.includes(`looked for ${places.join(', ')} as user `), `no config file: check lists them too (${r.stdout.trim()})`);
  });
}

// Every ```ini block of the README, its placeholders filled, is a config
// that check reads without a syntax error.
async function readmeBlocks(ctx) {
  const readme = fs.readFileSync(path.join(ctx.src, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```ini\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  await test('config: the README\'s ini blocks parse as written', async () => {
    ok(blocks.length >= 2, `the README has ${blocks.length} ini blocks`);
    ok(blocks.some((t) => /^[a-z_]+\s*=\s*\S.*\s#\s/m.test(t)), 'at least one block has a comment after a value');
    const home = path.join(ctx.dir, 'readme-home');
    fs.mkdirSync(home, { recursive: true });
    let i = 0;
    for (const text of blocks) {
      i++;
      const filled = text
        .replace(/whsec_\.\.\./g, ctx.secret)
        .replace(/sk_live_\.\.\./g, 'sk_test_readme')
        .replace(/^(db_password\s*=\s*)\.\.\./m, `$1${ctx.db.password}`)
        .replace(/\/home\/(acct|USER)/g, home);
      ok(!/\.\.\./.test(filled.replace(/#.*$/gm, '')), `README ini block ${i}: every placeholder filled`);
      const conf = path.join(ctx.dir, `readme-${i}.conf`);
      fs.writeFileSync(conf, filled, { mode: 0o600 });
      const r = await runCmd(ctx.bin, ['check'], { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: conf } });
      const lines = r.stdout.split('\n');
      ok(lines[0].startsWith(`config: ${conf} (read as `), `README ini block ${i}: check reads it (${lines[0]})`);
      ok(/^signing_secret: 1 secret, each decodes$/.test(lines[1] || ''), `README ini block ${i}: signing_secret decodes (${lines[1]})`);
      ok(!r.stdout.includes('#') && !r.stderr.includes('#'), `README ini block ${i}: no comment reaches a value (${r.stdout.trim()} ${r.stderr.trim()})`);
      for (const f of fs.readdirSync(home)) ok(!f.includes('#') && !f.includes(' '), `README ini block ${i}: file ${f} named without its comment`);
    }
  });
}

export function noSecretsLeak(ctx) {
  const secrets = [ctx.secret, ctx.secret.slice(6), ctx.db.password, ...(ctx.extraSecrets || [])];
  const leaks = [];
  ctx.responses.forEach((r, i) => {
    for (const s of secrets) if (r && r.raw && r.raw.includes(s)) leaks.push(`response ${i}`);
    const sigs = (r && r.sentSignature ? r.sentSignature.split(' ') : []).map((e) => e.slice(3)).filter((e) => e.length > 20);
    for (const s of sigs) if (r.raw && r.raw.includes(s)) leaks.push(`response ${i} echoes the signature`);
  });
  for (const f of new Set(ctx.logFiles)) {
    if (!f || !fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, 'utf8');
    for (const s of secrets) if (text.includes(s)) leaks.push(path.basename(f));
  }
  ok(ctx.responses.length > 0, `collected ${ctx.responses.length} responses to scan`);
  eq(leaks, [], 'no secret, database password or signature in any answer or log');
  const logged = [...new Set(ctx.logFiles)].filter((f) => f && fs.existsSync(f) && fs.statSync(f).size > 0);
  ok(logged.length > 0, `log files written (${logged.map((f) => path.basename(f)).join(', ')})`);
}

export const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|double free|stack smashing|Segmentation fault/;

// Apache's own workers may die at its shutdown ("AH00052: child pid N exit
// signal ..."): that is not clerksync, which mod_fcgid and mod_cgi report
// in other words. Such lines are left out before looking for a report.
export function crashReport(text) {
  const m = text.replace(/^.*AH00052: child pid \d+ exit signal.*$/gm, '').match(SANITIZER);
  return m ? m[0] : null;
}

export function processHealth(ctx) {
  const cgi = ctx.responses.filter((r) => r && r.exitCode !== undefined && r.driver === 'cgi');
  const badExit = cgi.filter((r) => r.exitCode !== 0 || r.signal);
  ok(badExit.length === 0, `every CGI process exited 0 (${badExit.length} of ${cgi.length} did not)`);
  for (const r of badExit.slice(0, 3)) diag(`exit ${r.exitCode} signal ${r.signal}: ${r.stderr.slice(0, 300)}`);
  const noisy = ctx.responses.filter((r) => r && r.stderr && crashReport(r.stderr));
  for (const f of new Set(ctx.logFiles)) {
    const report = f && fs.existsSync(f) ? crashReport(fs.readFileSync(f, 'latin1')) : null;
    if (report) noisy.push({ stderr: `${path.basename(f)}: ${report}` });
  }
  ok(noisy.length === 0, `no sanitizer or crash report in any stderr or log (${noisy.length})`);
  for (const r of noisy.slice(0, 3)) diag(r.stderr.slice(0, 1000));
}
