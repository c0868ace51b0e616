// A local fake of Clerk's Backend API (users, organizations, memberships, also
// instance-wide at /v1/organization_memberships) for tests of
// `clerksync.fcgi backfill` / `reconcile` / `sync`. HTTPS on 127.0.0.1 with a
// throwaway CA (caFile), Bearer auth, Clerk's pagination shapes, a sliding
// window rate limit answering 429 + Retry-After, and fault injection.
//
//   const fc = await startFakeClerk({ secretKey, rateLimit: 100, rateWindowMs: 10000, tls: true, epoch });
//   fc.url, fc.caFile, fc.secretKey, fc.port
//   fc.addUsers(n, { seed }), fc.users, fc.setUser(o), fc.updateUser(id, patch), fc.deleteUser(id)
//   fc.addOrganizations(n, { seed }), fc.organizations, fc.setOrganization(o),
//     fc.updateOrganization(id, patch), fc.deleteOrganization(id)  (also drops its memberships)
//   fc.addMembership(orgId, userId, { role }), fc.memberships, fc.updateMembership(id, patch),
//     fc.deleteMembership(id)
//   fc.requests [{ t, method, path, query, status }], fc.maxInWindow(ms), fc.count429, fc.authFailures
//   fc.failNext(n, status), fc.failEvery(k), fc.delayMs, fc.slowNext(n, ms), fc.hangNext(n)
//   fc.override(path, status, body): GET path answered so (body: object, or a string sent
//     as it is), until fc.override(path) removes it
//   await fc.close()
//
// Timestamps come from a fake clock (opts.epoch, default 2026-03-31, after
// every fixture's timestamps) advancing 1000 ms per creation or update, so
// data is deterministic for a given seed and call sequence. Request times
// (requests[].t) are performance.now() values; status is null while a request
// is pending or hung, and aborted is set when the client went away first.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, onCleanup, tmpDir } from './procs.mjs';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'clerk');
const fixture = (name) => JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8'));
const clone = (o) => structuredClone(o);
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// prefix + 27 base62 characters, a pure function of the parts.
function makeId(prefix, ...parts) {
  const h = crypto.createHash('sha256').update(parts.join('\0')).digest();
  let s = '';
  for (let i = 0; i < 27; i++) s += B62[h[i] % 62];
  return prefix + s;
}

function makeCert(dir) {
  const cnf = path.join(dir, 'openssl.cnf');
  fs.writeFileSync(cnf, [
    '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = fakeclerk',
    '[v3_ca]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier = hash',
    '[v3_srv]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = serverAuth', 'subjectAltName = IP:127.0.0.1,DNS:localhost',
    'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid,issuer', '',
  ].join('\n'));
  const f = (n) => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-config', cnf, '-extensions', 'v3_ca', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '2', '-subj', '/CN=fakeclerk throwaway CA']);
  run(['req', '-new', '-config', cnf, ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-out', f('server.pem'),
    '-days', '2', '-set_serial', '0x' + crypto.randomBytes(8).toString('hex'), '-extfile', cnf, '-extensions', 'v3_srv']);
  return { caFile: f('ca.pem'), key: fs.readFileSync(f('server.key')), cert: fs.readFileSync(f('server.pem')) };
}

const CODES = { 401: 'authentication_invalid', 404: 'resource_not_found', 422: 'form_param_value_invalid', 429: 'too_many_requests' };
const MESSAGES = {
  401: ['Invalid authentication', 'Unable to authenticate the request, you need to supply an active secret key'],
  404: ['not found', 'Resource not found'],
  429: ['Too many requests', 'Too many requests, please try again later'],
};
function errorBody(status, longMessage, meta) {
  const [message, long] = MESSAGES[status] || (status === 422 ? ['is invalid', ''] : ['Oops, an unexpected error occurred', 'Oops, an unexpected error occurred']);
  const e = { message, long_message: longMessage || long, code: CODES[status] || 'internal_clerk_error' };
  if (meta) e.meta = meta;
  return { errors: [e], clerk_trace_id: crypto.randomBytes(16).toString('hex') };
}

export async function startFakeClerk(opts = {}) {
  const secretKey = opts.secretKey || 'sk_test_' + crypto.randomBytes(24).toString('base64url');
  const rateLimit = opts.rateLimit ?? 100;
  const rateWindowMs = opts.rateWindowMs ?? 10000;
  const tls = opts.tls !== false;
  const userFx = fixture('user.created.json');
  const orgFx = fixture('organization.created.json').data;
  const memFx = fixture('organizationMembership.created.json').data;
  const imageUrl = (rid) => 'https://img.clerk.com/' + Buffer.from(JSON.stringify({ type: 'default', iid: userFx.instance_id, rid })).toString('base64url');

  let clock = opts.epoch ?? 1775000000000;
  const tick = () => (clock += 1000);
  let seq = 0;
  const used = new Set(); // every id ever handed out, so a deleted id is never reused
  const fresh = (prefix, ...parts) => {
    for (let k = 0; ; k++) {
      const id = makeId(prefix, ...parts, k);
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
  const users = new Map();
  const organizations = new Map();
  const memberships = new Map();

  const fc = {
    secretKey, users, organizations, memberships,
    requests: [], authFailures: 0, delayMs: 0,
    get count429() { return fc.requests.filter((r) => r.status === 429).length; },

    addUsers(n, { seed = 0 } = {}) {
      const out = [];
      for (let i = 0; i < n; i++) {
        const u = clone(userFx.data), no = ++seq, id = fresh('user_', 'user', seed, i);
        u.id = id;
        u.created_at = u.updated_at = u.last_active_at = u.legal_accepted_at = u.password_last_updated_at = tick();
        u.first_name = `Zoë ${no}`;
        u.image_url = imageUrl(id);
        const oldPrimary = u.primary_email_address_id;
        u.email_addresses = u.email_addresses.map((e, j) => {
          const eid = makeId('idn_', id, j);
          if (e.id === oldPrimary) {
            u.primary_email_address_id = eid;
            e.email_address = `zoe.${no}@example.org`;
          } else e.email_address = `zoe.${no}.${j}@example.org`;
          return { ...e, id: eid, created_at: u.created_at, updated_at: u.created_at };
        });
        users.set(id, u);
        out.push(u);
      }
      return out;
    },
    setUser(o) { used.add(o.id); users.set(o.id, clone(o)); return users.get(o.id); },
    updateUser(id, patch = {}) { return update(users, id, patch); },
    deleteUser(id) {
      for (const m of [...memberships.values()]) if (m.public_user_data.user_id === id) fc.deleteMembership(m.id);
      return users.delete(id);
    },

    addOrganizations(n, { seed = 0 } = {}) {
      const out = [];
      for (let i = 0; i < n; i++) {
        const o = clone(orgFx), no = ++seq, id = fresh('org_', 'org', seed, i);
        Object.assign(o, { id, name: `Café Ñandú ${no} ☕`, slug: `cafe-nandu-${no}`, members_count: 0, image_url: imageUrl(id) });
        o.created_at = o.updated_at = tick();
        organizations.set(id, o);
        out.push(o);
      }
      return out;
    },
    setOrganization(o) { used.add(o.id); organizations.set(o.id, clone(o)); return organizations.get(o.id); },
    updateOrganization(id, patch = {}) { return update(organizations, id, patch); },
    deleteOrganization(id) {
      for (const m of [...memberships.values()]) if (m.organization.id === id) fc.deleteMembership(m.id);
      return organizations.delete(id);
    },

    addMembership(orgId, userId, { role = 'org:member' } = {}) {
      const org = organizations.get(orgId);
      if (!org) throw new Error(`addMembership: no organization ${orgId}`);
      for (const m of memberships.values()) {
        if (m.organization.id === orgId && m.public_user_data.user_id === userId) throw new Error(`addMembership: ${userId} already in ${orgId}`);
      }
      const m = clone(memFx);
      m.id = fresh('orgmem_', orgId, userId);
      m.created_at = m.updated_at = tick();
      m.role = role;
      m.role_name = role === 'org:admin' ? 'Admin' : role === 'org:member' ? 'Member' : role.replace(/^org:/, '');
      if (role === 'org:admin') m.permissions = [...m.permissions, 'org:sys_memberships:manage', 'org:sys_profile:manage', 'org:sys_profile:delete'];
      m.organization = { id: orgId };
      m.public_user_data = { ...m.public_user_data, user_id: userId };
      memberships.set(m.id, m);
      org.members_count = (org.members_count || 0) + 1; // live count; not an update of the organization
      return view(m);
    },
    updateMembership(id, patch = {}) { return view(update(memberships, id, patch)); },
    deleteMembership(id) {
      const m = memberships.get(id);
      if (!m) return false;
      const org = organizations.get(m.organization.id);
      if (org && org.members_count > 0) org.members_count--;
      return memberships.delete(id);
    },

    // Max number of non-429 requests within any window of windowMs.
    maxInWindow(windowMs = rateWindowMs) {
      const ts = fc.requests.filter((r) => r.status !== 429).map((r) => r.t).sort((a, b) => a - b);
      let best = 0;
      for (let i = 0, j = 0; j < ts.length; j++) {
        while (ts[j] - ts[i] >= windowMs) i++;
        best = Math.max(best, j - i + 1);
      }
      return best;
    },
    failNext(n, status = 500) { faults.fail = n; faults.failStatus = status; },
    failEvery(k) { faults.every = k; faults.counter = 0; },
    slowNext(n, ms) { faults.slow = n; faults.slowMs = ms; },
    hangNext(n) { faults.hang = n; },
    override(p, status, body) {
      if (status === undefined) overrides.delete(p);
      else overrides.set(p, [status, body]);
    },
  };
  const overrides = new Map();
  const faults = { fail: 0, failStatus: 500, every: 0, counter: 0, slow: 0, slowMs: 0, hang: 0 };

  // Shallow patch; updated_at bumped strictly (an explicit later patch.updated_at wins).
  function update(map, id, patch) {
    const old = map.get(id);
    if (!old) throw new Error(`update: no ${id}`);
    const next = { ...clone(old), ...clone(patch), id };
    next.updated_at = Math.max(old.updated_at + 1, tick(), patch.updated_at ?? 0);
    map.set(id, next);
    return next;
  }

  // A membership as served: the current organization, the current user's public data.
  function view(m) {
    const out = clone(m);
    out.organization = clone(organizations.get(m.organization.id));
    const u = users.get(m.public_user_data.user_id);
    if (u) {
      const email = u.email_addresses.find((e) => e.id === u.primary_email_address_id);
      Object.assign(out.public_user_data, {
        first_name: u.first_name, last_name: u.last_name, has_image: u.has_image, image_url: u.image_url,
        profile_image_url: u.profile_image_url, identifier: email ? email.email_address : u.username,
      });
    }
    return out;
  }

  // limit/offset/order_by checks and a page of items; a string is an error message (422).
  function page(q, items) {
    const limit = q.has('limit') ? q.get('limit') : '10';
    const offset = q.has('offset') ? q.get('offset') : '0';
    const orderBy = q.get('order_by') || '-created_at';
    if (!/^\d+$/.test(limit) || +limit < 1 || +limit > 500) return ['limit', 'limit must be an integer between 1 and 500'];
    if (!/^\d+$/.test(offset)) return ['offset', 'offset must be a non-negative integer'];
    const m = /^([+-]?)(created_at|updated_at)$/.exec(orderBy);
    if (!m) return ['order_by', `order_by: unsupported value ${orderBy}`];
    const dir = m[1] === '-' ? -1 : 1, key = m[2];
    const sorted = [...items].sort((a, b) => dir * (a[key] - b[key] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    return { data: sorted.slice(+offset, +offset + +limit), total: sorted.length };
  }

  function route(method, p, q) {
    if (method !== 'GET') return [404, errorBody(404)];
    const seg = p.split('/').slice(1).map(decodeURIComponent);
    if (seg[0] !== 'v1') return [404, errorBody(404)];
    const listed = (items, wrap) => {
      const r = page(q, items);
      if (Array.isArray(r)) return [422, errorBody(422, r[1], { param_name: r[0] })];
      return [200, wrap ? { data: r.data, total_count: r.total } : r.data];
    };
    const one = (o) => (o ? [200, o] : [404, errorBody(404)]);
    if (seg[1] === 'users' && seg.length === 2) return listed(users.values(), false);
    if (seg[1] === 'users' && seg[2] === 'count' && seg.length === 3) return [200, { object: 'total_count', total_count: users.size }];
    if (seg[1] === 'users' && seg.length === 3) return one(users.get(seg[2]));
    if (seg[1] === 'organizations' && seg.length === 2) return listed(organizations.values(), true);
    if (seg[1] === 'organization_memberships' && seg.length === 2) return listed([...memberships.values()].map(view), true);
    if (seg[1] === 'organizations' && seg.length === 3) return one(organizations.get(seg[2]));
    if (seg[1] === 'organizations' && seg[3] === 'memberships' && seg.length === 4) {
      if (!organizations.has(seg[2])) return [404, errorBody(404)];
      return listed([...memberships.values()].filter((m) => m.organization.id === seg[2]).map(view), true);
    }
    return [404, errorBody(404)];
  }

  const windowTimes = []; // times of the requests counted by the rate limiter
  const sockets = new Set();
  const timers = new Set();
  const later = (ms, fn) => {
    const t = setTimeout(() => (timers.delete(t), fn()), ms);
    timers.add(t);
  };

  function handle(req, res) {
    const now = performance.now();
    const u = new URL(req.url, 'http://fake');
    const rec = { t: now, method: req.method, path: u.pathname, query: Object.fromEntries(u.searchParams), status: null };
    fc.requests.push(rec);
    req.resume();
    res.on('close', () => { if (!res.writableFinished) rec.aborted = true; });
    const send = (status, body, headers = {}) => {
      rec.status = status;
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      fc.authFailures++;
      return send(401, errorBody(401));
    }
    while (windowTimes.length && windowTimes[0] <= now - rateWindowMs) windowTimes.shift();
    if (windowTimes.length >= rateLimit) {
      const wait = Math.max(1, Math.ceil((windowTimes[0] + rateWindowMs - now) / 1000));
      return send(429, errorBody(429), { 'Retry-After': String(wait) });
    }
    windowTimes.push(now);
    if (faults.hang > 0) return void faults.hang--; // never answered; close() destroys the socket
    let status = 0;
    if (faults.fail > 0) {
      faults.fail--;
      status = faults.failStatus;
    } else if (faults.every > 0 && ++faults.counter % faults.every === 0) status = 500;
    let delay = fc.delayMs;
    if (faults.slow > 0) {
      faults.slow--;
      delay += faults.slowMs;
    }
    const answer = () => {
      if (status) return send(status, errorBody(status), status === 429 ? { 'Retry-After': '1' } : {});
      if (overrides.has(u.pathname)) {
        const [st, body] = overrides.get(u.pathname);
        if (typeof body !== 'string') return send(st, body);
        rec.status = st;
        res.writeHead(st, { 'Content-Type': 'text/html' });
        return void res.end(body);
      }
      const [st, body] = route(req.method, u.pathname, u.searchParams);
      send(st, body);
    };
    if (delay > 0) later(delay, answer);
    else answer();
  }

  let cert = {};
  if (tls) {
    const dir = tmpDir('fakeclerk-');
    onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
    cert = makeCert(dir);
  }
  const server = tls ? https.createServer({ key: cert.key, cert: cert.cert }, handle) : http.createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {}); // a client rejecting our certificate is a test case, not an error
  let port;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()));
      });
      break;
    } catch (e) {
      if (e.code !== 'EADDRINUSE' || attempt >= 5) throw e;
    }
  }

  let closing = null;
  const stop = () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of sockets) s.destroy();
  };
  fc.close = () => {
    if (!closing) {
      closing = new Promise((resolve) => server.close(() => resolve()));
      stop();
    }
    return closing;
  };
  onCleanup(() => {
    if (!closing) server.close();
    stop();
  });
  Object.assign(fc, { port, url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, caFile: tls ? cert.caFile : null });
  return fc;
}
