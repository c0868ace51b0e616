import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const tracked = new Map();
const cleanups = [];

const SEARCH_PATH = [...(process.env.PATH || '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin']
  .filter(Boolean);

export function which(name) {
  for (const dir of SEARCH_PATH) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

export function need(name) {
  const p = which(name);
  if (!p) throw new Error(`${name} not found in PATH, /usr/sbin or /sbin`);
  return p;
}

export function childPids(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

export function descendants(pid) {
  const all = [];
  for (const c of childPids(pid)) all.push(c, ...descendants(c));
  return all;
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {}
}

export function spawnTracked(cmd, args, opts = {}) {
  const child = spawn(cmd, args, opts);
  if (child.pid) {
    tracked.set(child.pid, child);
    child.on('exit', () => tracked.delete(child.pid));
  }
  return child;
}

export function track(pid) {
  tracked.set(pid, null);
}

export function untrack(pid) {
  tracked.delete(pid);
}

export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const idle = (ms) => new Promise((r) => setTimeout(r, ms).unref());

export async function waitPidGone(pid, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

export async function terminate(pidOrChild, { timeout = 10000, tree = true } = {}) {
  const pid = typeof pidOrChild === 'number' ? pidOrChild : pidOrChild.pid;
  if (!pid) return;
  const kids = tree ? descendants(pid) : [];
  signal(pid, 'SIGTERM');
  const gone = typeof pidOrChild === 'number'
    ? waitPidGone(pid, timeout)
    : Promise.race([exited(pidOrChild).then(() => true), idle(timeout).then(() => false)]);
  if (!(await gone)) signal(pid, 'SIGKILL');
  for (const k of kids) {
    if (alive(k)) {
      signal(k, 'SIGTERM');
      if (!(await waitPidGone(k, 3000))) signal(k, 'SIGKILL');
    }
  }
  tracked.delete(pid);
}

export function onCleanup(fn) {
  cleanups.push(fn);
}

function killAllSync(sig) {
  for (const pid of [...tracked.keys()]) {
    const kids = descendants(pid);
    signal(pid, sig);
    for (const k of kids) signal(k, sig);
  }
  tracked.clear();
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {}
  }
}

process.on('exit', () => killAllSync('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAllSync('SIGKILL');
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

export function freePort(preferred) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e) => {
      if (preferred) resolve(freePort());
      else reject(e);
    });
    srv.listen(preferred || 0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(opts) {
  return new Promise((resolve) => {
    const s = net.connect(opts);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function waitFor(fn, { timeout = 20000, interval = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

export function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Start a server in the foreground (tracked, in its own process group) and
// wait until it accepts on 127.0.0.1:port. If it dies first, throw with its
// stderr and log(), the text of its error log. The result's alive tells
// whether it still runs.
export async function startServer(cmd, args, { port, what, env = { PATH: process.env.PATH }, log = () => '', inherit = false }) {
  const child = spawnTracked(cmd, args, { env, stdio: inherit ? 'inherit' : ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  if (child.stderr) child.stderr.on('data', (c) => (stderr += c));
  let dead = false;
  exited(child).then(() => {
    dead = true;
  });
  await waitFor(async () => dead || (await canConnect({ host: '127.0.0.1', port })), { what: `${what} on ${port}` });
  if (dead) throw new Error(`${what} exited at start-up: ${stderr}${log()}`);
  return {
    child,
    get alive() {
      return !dead;
    },
  };
}

// The text of a log file, or '' if there is none yet.
export const readLog = (file) => (file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
