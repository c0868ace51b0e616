// Self-test of tests/lib/fakeclerk.mjs with Node's own https client.
// usage: node tests/backfill/fakeclerk-selftest.mjs   (TAP on stdout, a few seconds)
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { startFakeClerk } from '../lib/fakeclerk.mjs';
import { sleep } from '../lib/procs.mjs';
import { diag, done, eq, ok, test } from '../lib/tap.mjs';

// GET url+path; resolves { status, headers, json } or { error } (timeout, TLS, reset).
function get(fc, p, { key = fc.secretKey, ca = fc.caFile && fs.readFileSync(fc.caFile), timeout = 5000, base = fc.url } = {}) {
  const u = new URL(p, base);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const headers = key === null ? {} : { Authorization: `Bearer ${key}` };
    const req = mod.request(u, { method: 'GET', headers, ca, agent: false, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(body);
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, json });
      });
      res.on('error', (error) => resolve({ error }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (error) => resolve({ error }));
    req.end();
  });
}

const started = Date.now();
const fc = await startFakeClerk();
diag(`fake Clerk at ${fc.url}, CA ${fc.caFile}`);
const created = fc.addUsers(23, { seed: 1 });

await test('TLS: CA-trusted for 127.0.0.1 and localhost, untrusted without the CA', async () => {
  ok(fc.url.startsWith('https://127.0.0.1:'), `url ${fc.url}`);
  ok(fs.readFileSync(fc.caFile, 'utf8').includes('BEGIN CERTIFICATE'), 'caFile is a PEM certificate');
  eq((await get(fc, '/v1/users?limit=1')).status, 200, 'https://127.0.0.1 verifies with ca');
  eq((await get(fc, '/v1/users?limit=1', { base: `https://localhost:${fc.port}` })).status, 200, 'https://localhost verifies with ca');
  const r = await get(fc, '/v1/users?limit=1', { ca: null });
  ok(r.error && /certificate/i.test(r.error.message), `without ca the client rejects: ${r.error && r.error.message}`);
});

await test('generated users', async () => {
  eq(created.length, 23, 'addUsers returns 23 users');
  eq(fc.users.size, 23, 'users map holds them');
  ok(created.every((u) => /^user_[0-9A-Za-z]{27}$/.test(u.id)), 'ids are user_ + 27 base62');
  const emails = created.map((u) => u.email_addresses.find((e) => e.id === u.primary_email_address_id)?.email_address);
  ok(emails.every(Boolean) && new Set(emails).size === 23, 'primary emails present and unique');
  eq(new Set(created.flatMap((u) => u.email_addresses.map((e) => e.id))).size, 23, 'email address ids unique');
  eq(new Set(created.map((u) => u.first_name)).size, 23, 'first names distinct');
  ok(created.every((u, i) => u.updated_at >= u.created_at && (i === 0 || u.created_at > created[i - 1].created_at)), 'created_at increasing, updated_at >= created_at');
  const again = await startFakeClerk({ tls: false });
  try {
    eq(again.addUsers(23, { seed: 1 }).map((u) => u.id), created.map((u) => u.id), 'same seed, same ids');
    ok(again.addUsers(2, { seed: 2 }).every((u) => !fc.users.has(u.id)), 'another seed, other ids');
    ok(again.url.startsWith('http://') && again.caFile === null, `tls:false serves ${again.url}`);
    eq((await get(again, '/v1/users/count')).json, { object: 'total_count', total_count: 25 }, 'plain HTTP answers');
  } finally {
    await again.close();
  }
});

await test('pagination with +created_at covers all users once', async () => {
  const seen = [];
  for (let offset = 0; ; offset += 5) {
    const r = await get(fc, `/v1/users?limit=5&offset=${offset}&order_by=%2Bcreated_at`);
    if (!eq(r.status, 200, `page at offset ${offset}`)) return;
    ok(Array.isArray(r.json), 'bare JSON array');
    seen.push(...r.json);
    if (r.json.length < 5) break;
  }
  eq(seen.length, 23, '23 users');
  eq(new Set(seen.map((u) => u.id)).size, 23, 'no duplicates');
  eq(seen.map((u) => u.id), created.map((u) => u.id), 'oldest first');
  eq(seen[4], created[4], 'objects served as stored');
});

await test('default order and page size', async () => {
  const r = await get(fc, '/v1/users');
  eq(r.json.length, 10, 'default limit 10');
  eq(r.json.map((u) => u.id), created.slice(-10).reverse().map((u) => u.id), 'newest first');
  eq((await get(fc, '/v1/users?limit=500&order_by=-updated_at')).json.length, 23, 'limit 500, -updated_at accepted');
});

await test('invalid parameters → 422', async () => {
  for (const q of ['limit=501', 'limit=0', 'limit=abc', 'offset=-1', 'order_by=name']) {
    const r = await get(fc, `/v1/users?${q}`);
    ok(r.status === 422 && r.json.errors[0].code === 'form_param_value_invalid', `${q}: ${r.status} ${r.json?.errors?.[0]?.long_message}`);
  }
  eq((await get(fc, '/v1/organizations?limit=501')).status, 422, 'organizations limit 501');
});

await test('authentication', async () => {
  const before = fc.authFailures;
  const r1 = await get(fc, '/v1/users', { key: null });
  eq([r1.status, r1.json.errors[0].code], [401, 'authentication_invalid'], 'missing bearer → 401');
  ok(r1.json.errors[0].message && r1.json.errors[0].long_message, 'error has message and long_message');
  eq((await get(fc, '/v1/users', { key: 'sk_test_wrong' })).status, 401, 'wrong bearer → 401');
  eq(fc.authFailures - before, 2, 'auth failures recorded');
});

await test('single objects, 404s', async () => {
  const u = created[3];
  eq((await get(fc, `/v1/users/${u.id}`)).json, u, 'GET /v1/users/:id');
  const r = await get(fc, '/v1/users/user_doesnotexist000000000000000');
  eq([r.status, r.json.errors[0].code], [404, 'resource_not_found'], 'unknown user → 404');
  eq((await get(fc, '/v1/nope')).status, 404, 'unknown path → 404');
  eq((await get(fc, '/v1/users/a/b')).status, 404, 'deeper path → 404');
});

await test('updates and deletions', async () => {
  const u = created[0];
  const nu = fc.updateUser(u.id, { first_name: 'Renamed' });
  ok(nu.updated_at > u.updated_at, 'updated_at strictly larger');
  eq((await get(fc, `/v1/users/${u.id}`)).json.first_name, 'Renamed', 'update visible');
  ok(fc.deleteUser(created[1].id), 'deleteUser');
  eq((await get(fc, `/v1/users/${created[1].id}`)).status, 404, 'deleted user → 404');
  eq((await get(fc, '/v1/users?limit=100')).json.length, 22, 'deleted user not listed');
});

await test('organizations and memberships', async () => {
  const orgs = fc.addOrganizations(3, { seed: 7 });
  ok(orgs.every((o) => /^org_[0-9A-Za-z]{27}$/.test(o.id)), 'org ids');
  const r = await get(fc, '/v1/organizations?order_by=%2Bcreated_at');
  eq([r.json.total_count, r.json.data.map((o) => o.id)], [3, orgs.map((o) => o.id)], '{data,total_count}, oldest first');
  eq((await get(fc, `/v1/organizations/${orgs[0].id}`)).json.id, orgs[0].id, 'GET /v1/organizations/:id');
  eq((await get(fc, '/v1/organizations/org_missing')).status, 404, 'unknown organization → 404');
  const m1 = fc.addMembership(orgs[0].id, created[2].id, { role: 'org:admin' });
  fc.addMembership(orgs[0].id, created[3].id);
  ok(/^orgmem_[0-9A-Za-z]{27}$/.test(m1.id), 'membership id');
  const renamed = fc.updateOrganization(orgs[0].id, { name: 'Renamed Org' });
  const ms = await get(fc, `/v1/organizations/${orgs[0].id}/memberships?limit=1&offset=0&order_by=created_at`);
  eq(ms.json.total_count, 2, 'total_count 2');
  eq(ms.json.data.length, 1, 'limit 1');
  const m = ms.json.data[0];
  eq(m.organization, { ...renamed, members_count: 2 }, 'embeds the current organization');
  eq([m.id, m.role, m.public_user_data.user_id, m.object], [m1.id, 'org:admin', created[2].id, 'organization_membership'], 'membership fields');
  eq((await get(fc, `/v1/organizations/${orgs[1].id}/memberships`)).json, { data: [], total_count: 0 }, 'empty org');
  eq((await get(fc, '/v1/organizations/org_missing/memberships')).status, 404, 'memberships of unknown org → 404');
  fc.deleteMembership(m1.id);
  eq((await get(fc, `/v1/organizations/${orgs[0].id}/memberships`)).json.total_count, 1, 'deleteMembership');
  fc.deleteOrganization(orgs[0].id);
  eq(fc.memberships.size, 0, 'deleteOrganization drops its memberships');
});

await test('fault injection', async () => {
  fc.failNext(2);
  const st = [];
  for (let i = 0; i < 3; i++) st.push((await get(fc, '/v1/users?limit=1')).status);
  eq(st, [500, 500, 200], 'failNext(2): 500, 500, then recovers');
  fc.failNext(1, 503);
  eq((await get(fc, '/v1/users?limit=1')).status, 503, 'failNext(1, 503)');
  fc.failEvery(3);
  const ev = [];
  for (let i = 0; i < 6; i++) ev.push((await get(fc, '/v1/users?limit=1')).status);
  fc.failEvery(0);
  eq(ev, [200, 200, 500, 200, 200, 500], 'failEvery(3)');
  fc.slowNext(1, 400);
  const slow = await get(fc, '/v1/users?limit=1', { timeout: 100 });
  ok(slow.error && /timeout/.test(slow.error.message), 'slowNext trips the client timeout');
  let t = performance.now();
  eq((await get(fc, '/v1/users?limit=1')).status, 200, 'next request is fast again');
  ok(performance.now() - t < 300, 'and quick');
  fc.delayMs = 150;
  t = performance.now();
  eq((await get(fc, '/v1/users?limit=1')).status, 200, 'delayMs answers');
  ok(performance.now() - t >= 140, 'after the delay');
  fc.delayMs = 0;
  fc.hangNext(1);
  const hung = await get(fc, '/v1/users?limit=1', { timeout: 200 });
  ok(hung.error, 'hangNext: client gives up');
  eq(fc.requests.at(-1).status, null, 'hung request recorded without status');
  await sleep(450); // let the slowNext answer fire into the closed socket
  ok(fc.requests.some((r) => r.aborted), 'abandoned requests are marked aborted');
});

await test('rate limit', async () => {
  const rl = await startFakeClerk({ rateLimit: 5, rateWindowMs: 1000 });
  try {
    const st = [];
    for (let i = 0; i < 8; i++) st.push(await get(rl, '/v1/users'));
    eq(st.map((r) => r.status), [200, 200, 200, 200, 200, 429, 429, 429], '5 per window, then 429');
    eq(st[5].headers['retry-after'], '1', 'Retry-After: 1');
    eq(st[5].json.errors[0].code, 'too_many_requests', 'too_many_requests');
    eq(rl.count429, 3, 'count429');
    eq(rl.maxInWindow(1000), 5, 'maxInWindow(1000) = 5');
    await sleep(1000);
    eq((await get(rl, '/v1/users')).status, 200, 'slot free after Retry-After');
    const par = await Promise.all(Array.from({ length: 12 }, () => get(rl, '/v1/users')));
    eq(par.filter((r) => r.status === 200).length, 4, 'concurrent burst: only free slots served');
    ok(rl.maxInWindow(1000) <= 5, `maxInWindow still <= 5 (${rl.maxInWindow(1000)})`);
    // brute force check of maxInWindow on the recorded requests
    const ts = rl.requests.filter((r) => r.status !== 429).map((r) => r.t);
    for (const w of [1, 50, 1000, 1500, 100000]) {
      const brute = Math.max(...ts.map((a) => ts.filter((b) => b >= a && b - a < w).length));
      eq(rl.maxInWindow(w), brute, `maxInWindow(${w}) = ${brute}`);
    }
  } finally {
    await rl.close();
  }
  const slow = await startFakeClerk({ rateLimit: 2, rateWindowMs: 2500, tls: false });
  try {
    await get(slow, '/v1/users');
    await get(slow, '/v1/users');
    const r = await get(slow, '/v1/users');
    eq([r.status, r.headers['retry-after']], [429, '3'], 'Retry-After rounds up the time until a slot frees');
  } finally {
    await slow.close();
  }
});

await test('close() with a hung request outstanding', async () => {
  fc.hangNext(1);
  const pending = get(fc, '/v1/users', { timeout: 10000 });
  await sleep(100);
  const t = performance.now();
  await fc.close();
  ok(performance.now() - t < 1000, 'close resolves promptly');
  const r = await pending;
  ok(r.error, `client sees the connection end (${r.error && r.error.message})`);
  await fc.close();
  ok(true, 'close is idempotent');
});

diag(`${fc.requests.length} requests, max ${fc.maxInWindow(10000)} in 10 s, ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
