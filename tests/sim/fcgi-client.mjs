// A small FastCGI client (responder role, one request per connection), so
// that tests can talk to a spawn-fcgi socket without a cgi-fcgi process per
// request, and can send a body that disagrees with CONTENT_LENGTH.
import net from 'node:net';
import { cgiEnv, parseCgiOutput } from '../lib/http.mjs';

const VERSION = 1;
const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;
const STDERR = 7;
const RESPONDER = 1;
const MAX = 65535;

function record(type, id, content = Buffer.alloc(0)) {
  const out = [];
  for (let off = 0; off === 0 || off < content.length; off += MAX) {
    const part = content.subarray(off, off + MAX);
    const pad = (8 - (part.length % 8)) % 8;
    const h = Buffer.alloc(8);
    h.writeUInt8(VERSION, 0);
    h.writeUInt8(type, 1);
    h.writeUInt16BE(id, 2);
    h.writeUInt16BE(part.length, 4);
    h.writeUInt8(pad, 6);
    out.push(h, part, Buffer.alloc(pad));
    if (content.length === 0) break;
  }
  return Buffer.concat(out);
}

function lengthBytes(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

export function encodeParams(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    const kb = Buffer.from(k);
    const vb = Buffer.from(String(v));
    parts.push(lengthBytes(kb.length), lengthBytes(vb.length), kb, vb);
  }
  return Buffer.concat(parts);
}

// One request: resolves { stdout, stderr, appStatus, closed } (never rejects
// on a connection error: closed says why it ended).
export function fcgiRequest(socketPath, { params, stdin = Buffer.alloc(0), timeout = 20000, cutAfter = null }) {
  return new Promise((resolve) => {
    const id = 1;
    const begin = Buffer.alloc(8);
    begin.writeUInt16BE(RESPONDER, 0);
    const body = Buffer.isBuffer(stdin) ? stdin : Buffer.from(stdin);
    const out = Buffer.concat([
      record(BEGIN_REQUEST, id, begin),
      record(PARAMS, id, encodeParams(params)),
      record(PARAMS, id),
      ...(body.length ? [record(STDIN, id, body)] : []),
      record(STDIN, id),
    ]);
    const stdout = [];
    const stderr = [];
    let buf = Buffer.alloc(0);
    let appStatus = null;
    let settled = false;
    const s = net.connect({ path: socketPath });
    const finish = (closed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8'), appStatus, closed });
    };
    const timer = setTimeout(() => finish('timeout'), timeout);
    // cutAfter: send only that many bytes of the request, then hang up.
    s.on('connect', () => (cutAfter === null ? s.write(out) : s.end(out.subarray(0, cutAfter))));
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 8) {
        const type = buf.readUInt8(1);
        const len = buf.readUInt16BE(4);
        const pad = buf.readUInt8(6);
        if (buf.length < 8 + len + pad) break;
        const content = buf.subarray(8, 8 + len);
        buf = buf.subarray(8 + len + pad);
        if (type === STDOUT) stdout.push(content);
        else if (type === STDERR) stderr.push(content);
        else if (type === END_REQUEST) {
          appStatus = content.readUInt32BE(0);
          finish('end');
          return;
        }
      }
    });
    s.on('error', (e) => finish(`error: ${e.code || e.message}`));
    s.on('close', () => finish('close'));
  });
}

// A driver like those in tests/lib/drivers.mjs, over a FastCGI socket.
export function fcgiSocketDriver(socketPath, { name = 'fcgi-direct' } = {}) {
  return {
    name,
    async send(req) {
      const params = { ...cgiEnv(req), ...(req.params || {}) };
      const r = await fcgiRequest(socketPath, { params, stdin: req.body || Buffer.alloc(0), timeout: req.timeout, cutAfter: req.cutAfter ?? null });
      const res = parseCgiOutput(r.stdout);
      res.stderr = r.stderr;
      res.appStatus = r.appStatus;
      res.closed = r.closed;
      return res;
    },
    async close() {},
  };
}
