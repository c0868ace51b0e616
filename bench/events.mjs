// clerksync bench: realistic, unique, signed Clerk user events.
//
// A set of n events for n * 0.3 users: each user is created, updated twice
// (a few a third time) and one user in three is deleted, so about 30 %
// creates, 60 % updates and 10 % deletes. Bodies follow the shapes of
// tests/fixtures/clerk/user.*.json (compact JSON, keys sorted, ids
// <prefix>_ + 27 base62, times in ms); creates and updates are 2-4 KB,
// deletes about 400 bytes as Clerk sends them. Each user's events are far
// apart in the stream (about n/4 positions), so replaying at concurrency 32
// still delivers them in order and every event is `applied`.
//
// Every id carries the set's 3-character tag, so the checks afterwards can
// count one set's rows with LIKE 'user_<tag>%' / 'msg_<tag>%'.
// SPDX-License-Identifier: ISC
import { signedHeaders } from '../tests/lib/sign.mjs';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const INSTANCE = 'ins_2xwbO3apJCPmoAsWOqygs2IXzC6';
const FIRST = ['Zoë', 'Renée', 'Ana', 'Björn', 'Chloé', 'Dmitri', 'Eşref', 'François', 'Gül', 'Hiroshi', 'Ingrid',
  'José', 'Kāne', 'Łukasz', 'Mária', 'Niamh', 'Oğuz', 'Pál', 'Quentin', 'Søren', 'Tomás', 'Ülkü', 'Wojciech', 'Yuki'];
const LAST = ['Ångström', "O'Connor-Nguyễn", 'Kowalski', 'Müller', 'Dubois', 'Lindqvist', 'García Márquez', 'Nakamura',
  'Øverland', 'Şahin', 'Ivanova', 'Ó Briain', 'Novák', 'Rossi', 'Papadopoulos', 'Hämäläinen', 'Kim', 'Silva'];
const LOCALES = ['sv-SE', 'fr-CA', 'en-US', 'de-DE', 'pl-PL', 'ja-JP', 'tr-TR', 'pt-BR', 'es-ES', 'en-GB'];
const UAS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:136.0) Gecko/20100101 Firefox/136.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1',
];
const WORDS = ('coffee roastery weekend hiking piano photography climbing cycling espresso garden design typography '
  + 'open source music travel reading chess kayaking bread baking ceramics astronomy — ✨ café naïve résumé 🚀').split(' ');

function rng32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(s) {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

function b62(n, width) {
  let s = '';
  do {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  } while (n > 0);
  return s.padStart(width, '0');
}

// <prefix>_ + 27 base62: the tag, a counter, random filler.
function makeId(rnd, prefix, tag, n) {
  let s = tag + b62(n, 7);
  while (s.length < 27) s += B62[Math.floor(rnd() * 62)];
  return `${prefix}_${s}`;
}

const pick = (rnd, a) => a[Math.floor(rnd() * a.length)];
const words = (rnd, n) => Array.from({ length: n }, () => pick(rnd, WORDS)).join(' ');
const imageUrl = (rnd, uid) => 'https://img.clerk.com/' + Buffer.from(JSON.stringify({
  type: 'proxy', src: `https://images.clerk.dev/uploaded/img_${uid.slice(5)}`, s: words(rnd, 2),
})).toString('base64url');

function verification(status, strategy, expire) {
  return { attempts: 1, expire_at: expire, status, strategy };
}

function emailEl(rnd, tag, n, address, t, oauth) {
  return {
    created_at: t,
    email_address: address,
    id: makeId(rnd, 'idn', tag, n),
    linked_to: oauth ? [{ id: makeId(rnd, 'idn', tag, n + 1), type: 'oauth_google' }] : [],
    matches_sso_connection: false,
    object: 'email_address',
    reserved: false,
    updated_at: t + 17,
    verification: oauth ? { attempts: null, expire_at: null, status: 'verified', strategy: 'from_oauth_google' }
      : verification('verified', 'email_code', t + 600000),
  };
}

// One user: the fixed facts, then data(v) for version v (0 = created).
function makeUser(rnd, tag, i, t0) {
  const kind = (r => (r < 0.55 ? 'email' : r < 0.8 ? 'oauth' : r < 0.9 ? 'phone' : 'username'))(rnd());
  const id = makeId(rnd, 'user', tag, i);
  const first = pick(rnd, FIRST);
  const last = pick(rnd, LAST);
  const local = `${first}.${last}`.normalize('NFD').replace(/[^A-Za-z.]/g, '').toLowerCase();
  const created = t0 + i * 37;
  const u = { kind, id, first, last, created, locale: pick(rnd, LOCALES), ua: pick(rnd, UAS),
    ip: `203.0.113.${1 + Math.floor(rnd() * 250)}`, bioLen: 100 + Math.floor(rnd() * 650) };
  const n = i * 8;
  u.emails = kind === 'phone' || kind === 'username' ? []
    : [emailEl(rnd, tag, n, `${local}.${tag}${i}@example.org`, created - 20000, kind === 'oauth')];
  u.email2 = emailEl(rnd, tag, n + 3, `${local.slice(0, 1)}.${tag}${i}@example.net`, created + 86400000, false);
  u.phones = kind !== 'phone' ? [] : [{
    backup_codes: null, created_at: created - 25000, default_second_factor: false,
    id: makeId(rnd, 'idn', tag, n + 5), linked_to: [], object: 'phone_number',
    phone_number: `+4477009${String(i % 100000).padStart(5, '0')}`, reserved: false,
    reserved_for_second_factor: false, updated_at: created - 100,
    verification: verification('verified', 'phone_code', created + 575000),
  }];
  u.external = kind !== 'oauth' ? [] : [{
    approved_scopes: 'email https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid profile',
    avatar_url: `https://lh3.googleusercontent.com/a/ACg8oc${id.slice(5)}${id.slice(8)}=s96-c`,
    created_at: created - 30, email_address: u.emails[0].email_address, email_address_verified: true,
    first_name: first, id: makeId(rnd, 'eac', tag, n + 6), identification_id: u.emails[0].linked_to[0].id,
    image_url: imageUrl(rnd, id), label: null, last_name: last, object: 'external_account', phone_number: null,
    provider: 'oauth_google', provider_user_id: String(100000000000000000000 + i * 7919).slice(0, 21),
    public_metadata: {}, updated_at: created - 30, username: null,
    verification: verification('verified', 'oauth_google', created + 595000),
  }];
  u.username = kind === 'username' ? `${local.replace(/\./g, '_').slice(0, 20)}_${tag}${i}` : null;
  u.externalId = kind === 'username' ? `legacy-${tag}${String(i).padStart(6, '0')}` : null;
  u.image = imageUrl(rnd, id);
  u.bio = words(rnd, 4 + Math.floor(u.bioLen / 9));
  return u;
}

function userData(u, v, updatedAt) {
  const emails = v >= 1 && u.emails.length ? [...u.emails, { ...u.email2, updated_at: updatedAt - 9 }] : u.emails;
  const primaryEmail = emails.length ? emails[v >= 2 ? emails.length - 1 : 0].id : null;
  const pub = v === 0 ? {} : {
    onboarded_at: new Date(u.created + 3600000).toISOString().slice(0, 19) + 'Z',
    plan: { features: { beta: ['charts', 'api'].slice(0, v), export: v >= 2 }, seats: 1 + v * 2, tier: v >= 2 ? 'pro' : 'team' },
    roles: v >= 2 ? ['editor', 'billing'] : ['editor'],
    score: 90 + v * 2.5,
  };
  return {
    backup_code_enabled: v >= 2,
    banned: false,
    create_organization_enabled: true,
    create_organizations_limit: null,
    created_at: u.created,
    delete_self_enabled: true,
    deprovisioned: false,
    email_addresses: emails,
    enterprise_accounts: [],
    external_accounts: u.external,
    external_id: u.externalId,
    first_name: u.kind === 'phone' ? null : u.first,
    has_image: v >= 1 || u.kind === 'oauth',
    id: u.id,
    image_url: u.image + (v >= 1 ? `?width=256&height=256&v=${v}` : ''),
    last_active_at: updatedAt - 1000,
    last_name: u.kind === 'phone' ? null : u.last + (v >= 2 ? ' 🚀' : ''),
    last_sign_in_at: v >= 1 ? updatedAt - 5000 : null,
    legal_accepted_at: u.created - 2,
    locale: u.locale,
    locked: false,
    lockout_expires_in_seconds: null,
    mfa_disabled_at: null,
    mfa_enabled_at: v >= 2 ? updatedAt - 20000 : null,
    object: 'user',
    passkeys: [],
    password_enabled: u.kind !== 'oauth',
    password_last_updated_at: u.kind !== 'oauth' ? u.created - 3 : null,
    phone_numbers: u.phones,
    primary_email_address_id: primaryEmail,
    primary_phone_number_id: u.phones.length ? u.phones[0].id : null,
    primary_web3_wallet_id: null,
    private_metadata: v === 0 ? {} : { crm: { hubspot_id: 60000 + u.created % 9973, lifecycle: 'customer' }, internal_notes: 'VIP — handle with care ✨' },
    profile_image_url: `https://images.clerk.dev/uploaded/img_${u.id.slice(5)}`,
    public_metadata: pub,
    saml_accounts: [],
    totp_enabled: v >= 2,
    two_factor_enabled: v >= 2,
    unsafe_metadata: {
      preferences: { bio: u.bio, digest_hour: 7, language: u.locale.slice(0, 2), newsletter: v % 2 === 0, theme: 'dark' },
      signup: { source: 'newsletter', utm: { campaign: 'spring-2026', medium: 'email' } },
    },
    updated_at: updatedAt,
    username: u.username,
    verification_attempts_remaining: 100,
    web3_wallets: [],
  };
}

// What store.c binds for the event (the ceiling replays these values).
function rowOf(type, data, ts) {
  if (type === 'user.deleted') return { del: true, objectId: data.id, ts };
  const prim = (list, pid, key) => (pid && list ? list.find((e) => e.id === pid) : undefined);
  const em = prim(data.email_addresses, data.primary_email_address_id);
  const ph = prim(data.phone_numbers, data.primary_phone_number_id);
  const { private_metadata: _drop, ...clerkData } = data;
  const s = (v) => (v === null || v === undefined ? null : String(v));
  return {
    del: false,
    objectId: data.id,
    ts,
    cols: [
      s(em && em.email_address),
      em ? (em.verification && em.verification.status === 'verified' ? '1' : '0') : null,
      s(ph && ph.phone_number),
      s(data.username),
      s(data.first_name),
      s(data.last_name),
      s(data.image_url),
      s(data.external_id),
      data.public_metadata === null || data.public_metadata === undefined ? null : JSON.stringify(data.public_metadata),
      data.banned ? '1' : '0',
      data.locked ? '1' : '0',
      s(data.last_sign_in_at),
      s(data.created_at),
      JSON.stringify(clerkData),
      s(data.updated_at),
    ],
  };
}

// n events tagged `tag` (3 characters of [a-z0-9]); sign them with sign().
export function makeSet({ tag, n, t0 = 1773480000000 }) {
  if (!/^[a-z0-9]{3}$/.test(tag)) throw new Error(`bad tag ${tag}`);
  const rnd = rng32(hash(tag));
  const users = Math.max(1, Math.floor(n / (3 + 1 / 3)));
  const gap = Math.max(1, Math.floor(users / 4));
  const slots = [];
  const all = [];
  for (let i = 0; i < users; i++) all.push(makeUser(rnd, tag, i, t0));
  for (let i = 0; i < users; i++) {
    slots.push({ u: i, step: 0 }, { u: i, step: 1 }, { u: i, step: 2 });
    if (i % 3 === 0) slots.push({ u: i, step: 4 });
  }
  for (let i = 0; slots.length < n; i++) slots.push({ u: i % users, step: 3 });
  slots.length = n;
  for (const s of slots) s.key = s.u + s.step * gap + rnd() * 0.9;
  slots.sort((a, b) => a.key - b.key);

  const events = [];
  const expect = { users: 0, created: 0, updated: 0, deleted: 0 };
  const seen = new Set();
  let seq = 0;
  for (const { u: i, step } of slots) {
    const u = all[i];
    if (!seen.has(i)) {
      seen.add(i);
      expect.users++;
    }
    const updatedAt = u.created + 100 + step * 3600000 + 26;
    let type;
    let data;
    if (step === 4) {
      type = 'user.deleted';
      data = { deleted: true, id: u.id, object: 'user' };
      expect.deleted++;
    } else {
      type = step === 0 ? 'user.created' : 'user.updated';
      data = userData(u, Math.min(step, 3), updatedAt);
      expect[step === 0 ? 'created' : 'updated']++;
    }
    const ts = (step === 4 ? u.created + 5 * 3600000 : updatedAt) + 18;
    const env = {
      data,
      event_attributes: { http_request: { client_ip: u.ip, user_agent: u.ua } },
      instance_id: INSTANCE,
      object: 'event',
      timestamp: ts,
      type,
    };
    const body = Buffer.from(JSON.stringify(env));
    events.push({ id: makeId(rnd, 'msg', tag, seq++), type, body, row: rowOf(type, data, ts) });
  }
  return { tag, events, expect };
}

// Sign every event now (the svix timestamp must be within tolerance).
export function signSet(set, secret) {
  for (const ev of set.events) ev.headers = signedHeaders(secret, ev.body, { id: ev.id });
  return set;
}

// Raw HTTP/1.1 requests, as wrk sends them.
export function httpRequest(ev, { host, path }) {
  const h = ev.headers;
  const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n`
    + 'User-Agent: Svix-Webhooks/1.62.0 (sender-bench; +https://www.svix.com/http-sender/)\r\n'
    + `Content-Type: application/json\r\nsvix-id: ${h['svix-id']}\r\nsvix-timestamp: ${h['svix-timestamp']}\r\n`
    + `svix-signature: ${h['svix-signature']}\r\nContent-Length: ${ev.body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), ev.body]);
}

// The ceiling's input: one record per event, each field <len>:<bytes> or
// -: for NULL, after a kind byte (U upsert, D delete).
export function ceilingRecord(ev) {
  const f = (v) => (v === null ? Buffer.from('-:') : Buffer.concat([Buffer.from(`${Buffer.byteLength(v)}:`), Buffer.from(v)]));
  const r = ev.row;
  const parts = [Buffer.from(r.del ? 'D' : 'U'), f(ev.id), f(ev.type), f(r.objectId), f(String(r.ts))];
  if (!r.del) for (const c of r.cols) parts.push(f(c));
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

export function sizes(set) {
  const by = {};
  for (const ev of set.events) (by[ev.type] ||= []).push(ev.body.length);
  const out = {};
  for (const [k, v] of Object.entries(by)) {
    v.sort((a, b) => a - b);
    out[k] = { n: v.length, min: v[0], median: v[v.length >> 1], max: v[v.length - 1] };
  }
  return out;
}
