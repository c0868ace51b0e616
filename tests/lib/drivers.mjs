import fs from 'node:fs';
import path from 'node:path';
import { cgiEnv, parseCgiOutput, postHttp } from './http.mjs';
import {
  canConnect, childPids, exited, freePort, need, readLog, sleep, spawnTracked, startServer, terminate, track, untrack, waitFor, which,
} from './procs.mjs';

const REQUEST_TIMEOUT = 20000;
let seq = 0;

// Optional wrapper for every run of the binary, e.g.
//   CLERKSYNC_WRAP='valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=/tmp/vg.%p'
// Words are split on blanks (no shell quoting); the first is looked up in
// PATH. CGI runs become `wrap... bin`, spawn-fcgi runs `-- wrap... bin`,
// and lighttpd's bin-path is a script in its temp dir that execs the same.
export function wrapArgv(env = process.env) {
  const words = String(env.CLERKSYNC_WRAP || '').trim().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  if (!words[0].includes('/')) words[0] = which(words[0]) || words[0];
  return words;
}

function wrapped(bin) {
  const w = wrapArgv();
  return w.length ? { cmd: w[0], args: [...w.slice(1), bin] } : { cmd: bin, args: [] };
}

// lighttpd's bin-path: the binary, or a script that execs it under the wrapper.
export function wrapperScript(dir, bin) {
  const w = wrapArgv();
  if (!w.length) return bin;
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  const file = path.join(dir, 'clerksync-wrapped.sh');
  fs.writeFileSync(file, `#!/bin/sh\nexec ${[...w, bin].map(q).join(' ')} "$@"\n`, { mode: 0o755 });
  return file;
}

function run(cmd, args, { env, body, dir, stdinMode = 'file' }) {
  return new Promise((resolve, reject) => {
    const buf = body === undefined || body === null ? Buffer.alloc(0) : Buffer.from(body);
    let fd = null;
    let stdin = 'pipe';
    if (stdinMode === 'file') {
      const file = path.join(dir, `body-${process.pid}-${++seq}`);
      fs.writeFileSync(file, buf);
      fd = fs.openSync(file, 'r');
      fs.unlinkSync(file);
      stdin = fd;
    }
    const child = spawnTracked(cmd, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
    if (fd !== null) fs.closeSync(fd);
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    if (stdinMode !== 'file') {
      child.stdin.on('error', () => {});
      child.stdin.end(buf);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), REQUEST_TIMEOUT);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

function result(r) {
  const res = parseCgiOutput(r.stdout);
  res.exitCode = r.code;
  res.signal = r.signal;
  res.stderr = r.stderr;
  return res;
}

export function cgiDriver({ bin, env = {}, dir, stdinMode = 'file' }) {
  return {
    name: 'cgi',
    async send(req) {
      const fullEnv = { PATH: process.env.PATH, ...env, ...cgiEnv(req) };
      const { cmd, args } = wrapped(bin);
      return result(await run(cmd, args, { env: fullEnv, body: req.body, dir, stdinMode }));
    },
    async close() {},
  };
}

export async function fcgiDriver({ bin, env = {}, dir, name = 'fcgi' }) {
  const sock = path.join(dir, `${name}-${++seq}.sock`);
  const log = fs.openSync(path.join(dir, `${name}-${seq}.stderr`), 'a');
  const { cmd, args } = wrapped(bin);
  const child = spawnTracked(need('spawn-fcgi'), ['-s', sock, '-M', '0600', '-n', '--', cmd, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', log, log],
    detached: true,
  });
  fs.closeSync(log);
  let dead = false;
  exited(child).then(() => {
    dead = true;
  });
  await waitFor(async () => dead || (fs.existsSync(sock) && (await canConnect({ path: sock }))), {
    what: `FastCGI socket ${sock}`,
  });
  if (dead) throw new Error(`spawn-fcgi/${path.basename(bin)} exited at start-up (code ${child.exitCode})`);
  const cgiFcgi = need('cgi-fcgi');
  return {
    name,
    pid: child.pid,
    socket: sock,
    get alive() {
      return !dead;
    },
    async send(req) {
      const fullEnv = { PATH: process.env.PATH, ...cgiEnv(req) };
      return result(await run(cgiFcgi, ['-bind', '-connect', sock], { env: fullEnv, body: req.body, dir }));
    },
    async close() {
      await terminate(child, { timeout: 10000 });
      fs.rmSync(sock, { force: true });
    },
  };
}

export function lighttpdConf({ dir, port, bin, config, maxProcs = 2, urlPath = '/clerksync', errorlog }) {
  const docroot = path.join(dir, 'htdocs');
  fs.mkdirSync(docroot, { recursive: true });
  const q = (s) => JSON.stringify(s);
  return [
    'server.modules = ( "mod_fastcgi" )',
    `server.document-root = ${q(docroot)}`,
    'server.bind = "127.0.0.1"',
    `server.port = ${port}`,
    `server.upload-dirs = ( ${q(dir)} )`,
    errorlog ? `server.errorlog = ${q(errorlog)}` : '',
    'server.tag = "lighttpd"',
    'fastcgi.server = (',
    `  ${q(urlPath)} => ((`,
    `    "socket" => ${q(path.join(dir, 'clerksync-fcgi.sock'))},`,
    `    "bin-path" => ${q(bin)},`,
    `    "max-procs" => ${maxProcs},`,
    `    "bin-environment" => ( "CLERKSYNC_CONFIG" => ${q(config)} ),`,
    '    "check-local" => "disable"',
    '  ))',
    ')',
    '',
  ].join('\n');
}

export async function startLighttpd({ dir, bin, config, port, maxProcs = 2, stdio = 'file', urlPath = '/clerksync' }) {
  fs.mkdirSync(dir, { recursive: true });
  port = port || (await freePort());
  const errorlog = stdio === 'file' ? path.join(dir, 'lighttpd-error.log') : undefined;
  const conf = path.join(dir, 'lighttpd.conf');
  fs.writeFileSync(conf, lighttpdConf({ dir, port, bin: wrapperScript(dir, bin), config, maxProcs, urlPath, errorlog }));
  const srv = await startServer(need('lighttpd'), ['-D', '-f', conf], {
    port, what: 'lighttpd', log: () => readLog(errorlog), inherit: stdio !== 'file',
  });
  const { child } = srv;
  await sleep(100);
  const backends = childPids(child.pid);
  for (const pid of backends) track(pid);
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}${urlPath}`,
    errorlog,
    backends,
    get alive() {
      return srv.alive;
    },
    async close() {
      await terminate(child, { timeout: 10000 });
      for (const pid of backends) untrack(pid);
    },
  };
}

export async function lighttpdDriver({ dir, bin, config, maxProcs = 2 }) {
  const srv = await startLighttpd({ dir, bin, config, maxProcs });
  return {
    name: 'lighttpd',
    server: srv,
    url: srv.url,
    send: (req) => postHttp(srv.url, req),
    close: () => srv.close(),
  };
}
