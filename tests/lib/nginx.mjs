// A private nginx for the deployment tests: a main config in a temp folder
// that includes the server block under test, run in the foreground
// (daemon off) and stopped by pid.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { need, readLog, sleep, startServer, terminate } from './procs.mjs';

const PARAMS = ['/etc/nginx/fastcgi_params', '/usr/local/nginx/conf/fastcgi_params', '/etc/nginx/fastcgi.conf'];

// dir: a fresh folder; serverBlock: the text of a server { } listening on
// 127.0.0.1:port; user: { name, uid, gid } for the workers when root.
export async function startNginx({ dir, serverBlock, port, user }) {
  const bin = need('nginx');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  fs.chmodSync(dir, 0o755);
  if (process.getuid() === 0 && user) fs.chownSync(tmp, user.uid, user.gid);
  // `include fastcgi_params;` is relative to the main config's folder.
  const params = PARAMS.find((p) => fs.existsSync(p));
  if (!params) throw new Error('fastcgi_params not found');
  fs.copyFileSync(params, path.join(dir, 'fastcgi_params'));
  fs.writeFileSync(path.join(dir, 'server.conf'), serverBlock);
  const errorLog = path.join(dir, 'error.log');
  const q = (s) => JSON.stringify(s);
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    process.getuid() === 0 && user ? `user ${user.name} ${user.group || user.name};` : '',
    `pid ${q(path.join(dir, 'nginx.pid'))};`,
    `error_log ${q(errorLog)} warn;`,
    'events { worker_connections 64; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${q(path.join(tmp, t))};`),
    `    include ${q(path.join(dir, 'server.conf'))};`,
    '}',
    '',
  ].join('\n'));
  const args = ['-p', dir, '-c', conf, '-e', errorLog];
  try {
    execFileSync(bin, [...args, '-t'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`nginx config test failed: ${(e.stderr || '').toString()}`);
  }
  const log = () => readLog(errorLog);
  const srv = await startServer(bin, args, { port, what: 'nginx', log });
  const { child } = srv;
  await sleep(50);
  let closed = false;
  return {
    child,
    port,
    errorLog,
    log,
    url: (p) => `http://127.0.0.1:${port}${p}`,
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
