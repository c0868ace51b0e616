// Random but reproducible Clerk histories for the delivery simulator.
//
// A history is a list of users, each with a true timeline of events
// (user.created, user.updated with strictly increasing data.updated_at,
// maybe a terminal user.deleted), plus events clerksync ignores; and a
// delivery plan: the messages (svix-id + body) in the order Svix would
// first try them, shuffled in bursts so that one user's events overlap
// in flight, with some svix-ids delivered more than once.
//
// Organizations and their memberships (orgs.mjs) share the plan: their
// events are delivered in the same bursts, some beside the events of the
// member user, some beside the other events of the organization.
//
// Bodies are built from the fixture shapes in tests/fixtures/clerk: ids,
// names, emails, phones, metadata and times vary; the rest of each shape
// stays as Clerk sends it.
import fs from 'node:fs';
import path from 'node:path';
import { generateOrgs, ignoredOrgEvent } from './orgs.mjs';

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// mulberry32: small, fast, good enough to shuffle tests reproducibly.
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    id: (prefix, n = 27) => {
      let s = prefix;
      for (let i = 0; i < n; i++) s += ALNUM[Math.floor(next() * ALNUM.length)];
      return s;
    },
    shuffle: (a) => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
  };
  return r;
}

// Names a careful sync must store byte for byte: accents, 4-byte UTF-8,
// quotes, backslashes, SQL and markup look-alikes, empty and null.
const FIRST = [
  'Zoë', 'Renée', 'Jan', '李', 'Ωμέγα', '𝔘𝔫𝔦', "D'Arcy", 'Robert\'); DROP TABLE users;--', 'back\\slash',
  '"Quoted"', 'Ünïcødé 🚀', 'Ⅻ', 'Ñandú', '', null, 'x'.repeat(256),
];
const LAST = [
  'Ångström 🚀', "O'Connor-Nguyễn", 'Kowalski', '小龍', '\\\\server\\share', '<b>bold</b>', '%_%', 'Smith',
  'e\u0301', '👩‍👩‍👧‍👦', null, 'Ø'.repeat(256),
];
const LOCALES = ['sv-SE', 'en-GB', 'vi-VN', 'pl-PL', null];

function loadShapes(fixtures) {
  const read = (f) => JSON.parse(fs.readFileSync(path.join(fixtures, f), 'utf8'));
  return {
    created: ['user.created.json', 'user.created.phone-only.json', 'user.created.username-only.json',
      'user.created.oauth-google.json'].map(read),
    updated: ['user.updated.json', 'user.updated.image-query.json', 'user.updated.long-unsafe-metadata.json',
      'user.updated.stale.json'].map(read),
    deleted: ['user.deleted.json', 'user.deleted.external-id.json'].map(read),
    ignored: ['session.created.json', 'email.created.json'].map(read),
  };
}

function identifications(r, u, version, kind) {
  const n = r.int(0, 3);
  const list = [];
  for (let i = 0; i < n; i++) {
    const id = u.idents[kind][i] || (u.idents[kind][i] = r.id('idn_'));
    const status = r.pick(['verified', 'verified', 'unverified', 'expired']);
    const base = {
      created_at: u.createdAt - 1000 * (i + 1),
      id,
      linked_to: [],
      object: kind === 'email' ? 'email_address' : 'phone_number',
      reserved: false,
      updated_at: u.createdAt + version,
      verification: { attempts: 1, expire_at: u.createdAt + 600000, status, strategy: kind === 'email' ? 'email_code' : 'phone_code' },
    };
    if (kind === 'email') base.email_address = `${u.local}.${version}.${i}@example.${r.pick(['org', 'net', 'com'])}`;
    else base.phone_number = `+4477009${String(r.int(0, 99999)).padStart(5, '0')}`;
    list.push(base);
  }
  const primary = list.length && r.chance(0.85) ? r.pick(list).id : r.chance(0.1) ? r.id('idn_') : null;
  return { list, primary };
}

function userData(r, shapes, u, version, updatedAt) {
  const shape = version === 0 ? r.pick(shapes.created) : r.pick(shapes.updated);
  const d = structuredClone(shape.data);
  d.id = u.id;
  d.created_at = u.createdAt;
  d.updated_at = updatedAt;
  d.first_name = r.pick(FIRST);
  d.last_name = r.pick(LAST);
  d.username = r.chance(0.5) ? `${u.local}_${version}` : null;
  d.external_id = r.chance(0.3) ? `ext-${u.local}-${r.int(0, 9999)}` : null;
  const emails = identifications(r, u, version, 'email');
  d.email_addresses = emails.list;
  d.primary_email_address_id = emails.primary;
  const phones = identifications(r, u, version, 'phone');
  d.phone_numbers = phones.list;
  d.primary_phone_number_id = phones.primary;
  d.banned = r.chance(0.1);
  d.locked = r.chance(0.1);
  d.last_sign_in_at = r.chance(0.3) ? null : updatedAt - r.int(0, 5000);
  d.locale = r.pick(LOCALES);
  d.image_url = `https://img.clerk.com/${r.id('', 40)}?v=${version}&q=${encodeURIComponent('ä&b')}`;
  d.public_metadata = r.pick([
    {},
    { plan: r.pick(['free', 'pro', 'team']), seats: r.int(1, 50), v: version },
    { nested: { list: [1, 2.5, null, true, 'ü'], deep: { a: { b: { c: version } } } } },
    { quote: 'it\'s "quoted" \\ back', ctrl: '\u0001\t\n' },
  ]);
  d.private_metadata = r.chance(0.2) ? null : { stripe: r.id('cus_', 14), note: `private ${version}` };
  // Keep the shape's own unsafe_metadata now and then (the long one holds
  // \u0000 and 2^53+1): stored verbatim in clerk_data.
  if (r.chance(0.7)) d.unsafe_metadata = { v: version, pick: r.pick(['a', 'ß', '🚀']) };
  return d;
}

function envelope(r, shape, type, data, timestamp) {
  const ev = {
    data,
    event_attributes: shape.event_attributes,
    instance_id: shape.instance_id,
    object: 'event',
    timestamp,
    type,
  };
  // Vary the bytes, not the value: compact, pretty, or keys in a new order.
  const style = r.int(0, 2);
  if (style === 0) return Buffer.from(JSON.stringify(ev));
  if (style === 1) return Buffer.from(JSON.stringify(ev, null, 2) + '\n');
  const { type: t, ...rest } = ev;
  return Buffer.from(JSON.stringify({ type: t, ...rest }, null, '\t'));
}

/*
 * seed, users, events (per user, at least 2), orgs (null: 6-10) -> {
 *   users: [{ id, events: [{ svixId, type, body, data, timestamp (ms) }], deleted }],
 *   orgs, memberships: see orgs.mjs (their events may be lost: never delivered),
 *   ignored: [{ svixId, body }],
 *   plan: [{ svixId, body, user (of a user event, else null), org (of an organization or
 *           membership event), keys: [the user and organization ids it touches] }]
 *         first-try order, duplicates included
 * }
 */
export function generate(seed, { users = 60, events = 10, orgs = null, fixtures }) {
  const r = prng(seed);
  const shapes = loadShapes(fixtures);
  const tag = seed.toString(36).padStart(4, '0').slice(-4);
  const out = { seed, users: [], orgs: [], memberships: [], ignored: [], plan: [] };
  let msgSeq = 0;
  const msgId = () => `msg_sim${tag}${String(++msgSeq).padStart(6, '0')}${r.id('', 8)}`;
  const t0 = 1773480413000 + r.int(0, 1e9);

  for (let i = 0; i < users; i++) {
    const u = {
      id: `user_${tag}${r.id('', 23)}`,
      local: `u${i}.${r.id('', 5).toLowerCase()}`,
      createdAt: t0 + r.int(0, 1e8),
      idents: { email: [], phone: [] },
      events: [],
      deleted: null,
    };
    const tombstoneOnly = r.chance(0.05);
    const withDelete = tombstoneOnly || r.chance(0.35);
    const nUpdates = tombstoneOnly ? r.int(0, 1) : Math.max(1, events - (withDelete ? 1 : 0));
    let at = u.createdAt + r.int(0, 2000);
    for (let v = 0; v < nUpdates; v++) {
      at += r.int(1, 5000);
      const data = userData(r, shapes, u, v, at);
      const type = v === 0 ? 'user.created' : 'user.updated';
      const ts = at + r.int(1, 40);
      u.events.push({ svixId: msgId(), type, data, timestamp: ts, body: envelope(r, r.pick(shapes.created), type, data, ts) });
    }
    if (withDelete) {
      const shape = r.pick(shapes.deleted);
      const data = { ...structuredClone(shape.data), id: u.id };
      if ('external_id' in data) data.external_id = `ext-${u.local}`;
      let ts = at + r.int(100, 20000);
      // SPEC 2: an envelope timestamp below 10^11 is seconds.
      if (r.chance(0.1)) ts = Math.floor(ts / 1000);
      const ev = { svixId: msgId(), type: 'user.deleted', data, timestamp: ts, body: envelope(r, shape, 'user.deleted', data, ts) };
      u.events.push(ev);
      u.deleted = ev;
    }
    out.users.push(u);
    if (r.chance(0.3)) {
      const shape = r.pick(shapes.ignored);
      const data = structuredClone(shape.data);
      if ('user_id' in data) data.user_id = u.id;
      data.id = r.id(`${String(data.id).split('_')[0]}_`);
      const ts = u.createdAt + r.int(0, 1e6);
      out.ignored.push({ svixId: msgId(), type: shape.type, body: envelope(r, shape, shape.type, data, ts) });
    }
  }

  // Organizations and memberships: their own stream of random numbers, so
  // that the users of a seed do not depend on them.
  const ro = prng((seed ^ 0x9e3779b9) >>> 0);
  const nOrgs = orgs === null ? ro.int(6, 10) : orgs;
  Object.assign(out, generateOrgs(ro, { users: out.users, orgs: nOrgs, t0, msgId, envelope, fixtures, tag }));
  for (let i = 0; out.orgs.length && i < 3; i++) out.ignored.push(ignoredOrgEvent(ro, out.orgs, t0, msgId, envelope, shapes.ignored[0]));

  // First-try order: bursts of one stream's remaining events (random
  // subset, random order) so that several are in flight at once, with
  // ignored events and repeated svix-ids mixed in. A stream is a user's
  // events, or an organization's; each membership event joins the stream
  // of its user or of its organization, so that it races either the
  // user's delete or the organization's other events and memberships.
  const userStream = new Map(out.users.map((u) => [u.id, u.events.map((e) => ({ svixId: e.svixId, body: e.body, user: u.id, keys: [u.id] }))]));
  const orgStream = new Map(out.orgs.map((o) => [o.id, o.events.filter((e) => !e.lost)
    .map((e) => ({ svixId: e.svixId, body: e.body, user: null, org: o.id, keys: [o.id] }))]));
  for (const m of out.memberships) {
    for (const e of m.events) {
      if (e.lost) continue;
      const msg = { svixId: e.svixId, body: e.body, user: null, org: m.orgId, keys: [m.orgId, m.userId] };
      (userStream.has(m.userId) && ro.chance(0.5) ? userStream.get(m.userId) : orgStream.get(m.orgId)).push(msg);
    }
  }
  const pending = [...userStream.values(), ...orgStream.values()].map((p) => r.shuffle(p));
  const ign = out.ignored.map((e) => ({ svixId: e.svixId, body: e.body, user: null, keys: [] }));
  const again = [];
  for (;;) {
    const open = pending.filter((p) => p.length);
    if (!open.length) break;
    const p = r.pick(open);
    const burst = p.splice(0, r.int(1, 4));
    for (const m of burst) {
      out.plan.push(m);
      if (r.chance(0.05)) out.plan.push({ ...m, repeat: true }); // same id, concurrently
      else if (r.chance(0.06)) again.push({ ...m, repeat: true }); // same id, later
    }
    if (ign.length && r.chance(0.15)) out.plan.push(ign.pop());
    if (again.length && r.chance(0.2)) out.plan.push(again.shift());
  }
  out.plan.push(...ign, ...again);
  return out;
}

// The state a user's row must end in, from the history alone: the newest
// data unless deleted. For a deleted user the Clerk-time columns depend on
// which updates won the race before the delete; verify.mjs takes those
// from the events table.
export function finalData(u) {
  const updates = u.events.filter((e) => e.type !== 'user.deleted');
  let best = null;
  for (const e of updates) if (!best || e.data.updated_at > best.data.updated_at) best = e;
  return best;
}
