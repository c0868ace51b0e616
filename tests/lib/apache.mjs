// A private Apache 2.4 for the deployment tests: its own ServerRoot in a
// temp folder, Listen 127.0.0.1:<free port>, run in the foreground and
// stopped by pid. Only the modules asked for are loaded, so "mod_cgi only"
// really is mod_cgi only.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, readLog, sleep, startServer, terminate, which } from './procs.mjs';

const MODULE_DIRS = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules', '/usr/libexec/apache2'];

export function apacheBinary() {
  return which('apache2') || which('httpd');
}

export function moduleDir() {
  return MODULE_DIRS.find((d) => fs.existsSync(path.join(d, 'mod_authz_core.so'))) || null;
}

// Whether this machine lets us give Apache a private /etc/passwd.
export function canFakeHome() {
  if (process.getuid() !== 0 || !which('unshare')) return false;
  try {
    execFileSync(which('unshare'), ['-m', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind /etc/passwd /etc/passwd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function hasModule(name) {
  const dir = moduleDir();
  return !!dir && fs.existsSync(path.join(dir, `mod_${name}.so`));
}

// The user the children run as when Apache starts as root (it refuses to
// serve as root); otherwise Apache keeps the caller's uid.
export function runUser() {
  if (process.getuid() !== 0) return { name: os.userInfo().username, uid: process.getuid(), gid: process.getgid() };
  for (const name of ['www-data', 'apache', 'daemon', 'nobody']) {
    try {
      const id = (flag) => execFileSync('id', [flag, name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
      return { name, uid: Number(id('-u')), gid: Number(id('-g')), group: id('-gn') };
    } catch {}
  }
  throw new Error('no unprivileged user to run Apache children as');
}

// Make a path reachable and owned by the run user (what a shared host
// gives the account: its files are its own).
export function giveTo(user, ...paths) {
  if (process.getuid() !== 0) return;
  for (const p of paths) {
    fs.chownSync(p, user.uid, user.gid);
    if (fs.statSync(p).isDirectory()) {
      for (const f of fs.readdirSync(p, { recursive: true })) fs.lchownSync(path.join(p, f), user.uid, user.gid);
    }
  }
}

const MPM = {
  event: [
    'StartServers 1', 'ServerLimit 2', 'ThreadsPerChild 8', 'MaxRequestWorkers 16',
    'MinSpareThreads 1', 'MaxSpareThreads 16', 'ThreadLimit 8',
  ],
  prefork: ['StartServers 2', 'MinSpareServers 1', 'MaxSpareServers 3', 'MaxRequestWorkers 6', 'ServerLimit 6'],
};

// dir: a fresh folder (it gets conf/, logs/, run/); docroot: DocumentRoot,
// with AllowOverride All; modules: names without mod_ (an mpm first);
// extra: more config lines (vhosts, fcgid settings).
// home: when root, the run user's home folder as getpwuid() reports it,
// by bind-mounting an edited copy of /etc/passwd in a private mount
// namespace (unshare -m) that only this Apache sees.
export async function startApache({ dir, docroot, modules, extra = [], port, user = runUser(), logLevel = 'warn', home }) {
  const bin = apacheBinary();
  if (!bin) throw new Error('apache2/httpd not found');
  const mods = moduleDir();
  port = port || (await freePort());
  for (const d of ['conf', 'logs', 'run']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const run = path.join(dir, 'run');
  const errorLog = path.join(dir, 'logs', 'error.log');
  fs.writeFileSync(path.join(dir, 'conf', 'mime.types'), 'application/json json\ntext/plain txt\n');
  const mpm = modules.find((m) => m.startsWith('mpm_'));
  const q = (s) => JSON.stringify(s);
  const conf = [
    `ServerRoot ${q(dir)}`,
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${port}`,
    `PidFile ${q(path.join(run, 'httpd.pid'))}`,
    `DefaultRuntimeDir ${q(run)}`,
    `Mutex file:${run} default`,
    `ErrorLog ${q(errorLog)}`,
    `LogLevel ${logLevel}`,
    ...modules.map((m) => `LoadModule ${m}_module ${q(path.join(mods, `mod_${m}.so`))}`),
    ...(MPM[mpm && mpm.slice(4)] || []),
    process.getuid() === 0 ? `User ${user.name}` : '',
    process.getuid() === 0 ? `Group ${user.group || user.name}` : '',
    `TypesConfig ${q(path.join(dir, 'conf', 'mime.types'))}`,
    'Timeout 20',
    'KeepAlive Off',
    'HostnameLookups Off',
    `DocumentRoot ${q(docroot)}`,
    '<Directory />',
    '    AllowOverride None',
    '    Require all denied',
    '</Directory>',
    `<Directory ${q(docroot)}>`,
    '    AllowOverride All',
    '    Require all granted',
    '</Directory>',
    ...extra,
    '',
  ].join('\n');
  const confFile = path.join(dir, 'conf', 'httpd.conf');
  fs.writeFileSync(confFile, conf);

  try {
    execFileSync(bin, ['-t', '-f', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`apache config test failed: ${(e.stderr || '').toString()}${(e.stdout || '').toString()}`);
  }
  let cmd = bin;
  let args = ['-DFOREGROUND', '-f', confFile];
  if (home) {
    const passwd = path.join(dir, 'conf', 'passwd');
    fs.writeFileSync(passwd, fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => {
      const f = l.split(':');
      if (f.length === 7 && Number(f[2]) === user.uid) f[5] = home;
      return f.join(':');
    }).join('\n'), { mode: 0o644 });
    cmd = which('unshare');
    args = ['-m', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /etc/passwd && exec "$@"', passwd, bin, ...args];
  }
  const log = () => readLog(errorLog);
  const srv = await startServer(cmd, args, { port, what: 'apache', env: { PATH: process.env.PATH, LANG: 'C' }, log });
  const { child } = srv;
  await sleep(50);
  let closed = false;
  return {
    child,
    port,
    confFile,
    errorLog,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    log,
    get alive() {
      return srv.alive;
    },
    async close() {
      if (closed) return;
      closed = true;
      await terminate(child, { timeout: 10000 });
    },
  };
}
