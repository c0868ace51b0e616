// Organizations and memberships for the delivery simulator's histories.
//
// Each organization has a true timeline: organization.created, a few
// organization.updated with strictly increasing data.updated_at, maybe a
// terminal organization.deleted. Memberships link it to the history's users
// (and now and then to a user the history never syncs): for each
// (organization, user) pair one membership, or several in turn (the user
// removed and added again: membership A ends before B is created, and A's
// organizationMembership.deleted is sometimes lost), each with
// organizationMembership.created, updates and maybe a delete; when the
// organization or the user is deleted, Clerk may also send the membership's
// delete. Every membership event embeds the organization as it was at that
// moment, so snapshots carry organization versions too; some organization
// events are lost (never delivered) so that a version reaches the receiver
// only through a snapshot.
//
// Bodies start from the fixture shapes in tests/fixtures/clerk; names,
// slugs, metadata, roles and permissions vary.
import fs from 'node:fs';
import path from 'node:path';

// Organization names a careful sync stores byte for byte (VARCHAR(256)).
const ORG_NAMES = [
  'Café Ñandú Coöperative ☕', "O'Reilly & Sons", 'Acme "Quoted" Ltd', '株式会社テスト', 'Ωμέγα Ομάδα',
  "x'); DROP TABLE organizations;--", 'back\\slash \\\\ share', '<b>bold</b> & <i>co</i>', '%_% wildcards',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🚀 Labs', 'Zürich Ärzte GmbH', 'e\u0301cole', '👩‍👩‍👧‍👦 Family Office', 'Ø'.repeat(256), 'A', '',
  'tab\there', null,
];
const SLUG_BASES = ['cafe-nandu', 'acme', 'omega', 'zurich-arzte', 'family-office', 'labs', 'x', 'o-reilly'];
const ROLES = [
  { role: 'org:admin', role_name: 'Admin', permissions: ['org:sys_billing:manage', 'org:sys_billing:read', 'org:sys_domains:manage',
    'org:sys_domains:read', 'org:sys_memberships:manage', 'org:sys_memberships:read', 'org:sys_profile:delete', 'org:sys_profile:manage'] },
  { role: 'org:member', role_name: 'Member', permissions: ['org:sys_billing:read', 'org:sys_memberships:read'] },
  { role: 'org:billing', role_name: 'Billing', permissions: ['org:sys_billing:manage', 'org:sys_billing:read', 'org:sys_memberships:read'] },
  { role: 'org:viewer_ü', role_name: 'Läser "viewer"', permissions: [] },
  { role: `org:${'r'.repeat(251)}`, role_name: 'Long', permissions: ['org:custom:a\'b', 'org:custom:"q"', 'org:ü:🚀'] },
  { role: 'org:guest', role_name: 'Guest', permissions: null },
];

function orgMetadata(r, v) {
  return r.pick([
    {},
    { billing: { plan: r.pick(['free', 'pro', 'team']), seats: r.int(1, 500), addons: r.chance(0.5) ? ['sso'] : [] }, v },
    { address: { city: r.pick(['Göteborg', 'Hà Nội', 'Łódź', '東京']), country: r.pick(['SE', 'VN', 'PL', 'JP']), lines: ['Järntorget 3', '2 tr'] } },
    { quote: 'it\'s "quoted" \\ back', ctrl: '\u0001\t\n', sql: "'; DELETE FROM organizations; --", v },
    { nested: { list: [1, 2.5, null, true, 'ü'], deep: { a: { b: { c: v } } } } },
  ]);
}

function memberMetadata(r, v) {
  return r.pick([
    {},
    { title: 'Ekonomiansvarig', cost_center: `SE-GBG-${String(r.int(0, 999)).padStart(3, '0')}`, v },
    { quote: 'it\'s "quoted" \\ back', emoji: '🚀👩‍👩‍👧‍👦' },
    { seat: { n: r.int(1, 99), tags: ['ä', 'ß', null, false] } },
  ]);
}

function loadShapes(fixtures) {
  const read = (f) => JSON.parse(fs.readFileSync(path.join(fixtures, f), 'utf8'));
  return {
    org: [read('organization.created.json'), read('organization.updated.json')],
    orgDeleted: read('organization.deleted.json'),
    member: [read('organizationMembership.created.json'), read('organizationMembership.created.creator.json'),
      read('organizationMembership.updated.json')],
    memberDeleted: read('organizationMembership.deleted.json'),
  };
}

// n strictly increasing integers in [lo, hi] (needs hi - lo + 1 >= n).
function times(r, lo, hi, n) {
  const step = Math.max(1, Math.floor((hi - lo + 1) / n));
  return Array.from({ length: n }, (_, i) => lo + i * step + r.int(0, step - 1));
}

/*
 * r: the prng; users: the history's users (id, createdAt, events, deleted);
 * t0: the history's epoch; msgId(): the next svix-id; envelope(r, shape,
 * type, data, ts): the body bytes. Returns { orgs, memberships }:
 *   orgs: [{ id, createdAt, versions: [data], events: [ev], deleted: ev|null }]
 *   memberships: [{ id, orgId, userId, createdAt, events: [ev], deleted: ev|null }]
 * ev: { svixId, type, data, timestamp, body, lost }; a lost event is part of
 * the truth but never delivered.
 */
export function generateOrgs(r, { users, orgs: nOrgs, t0, msgId, envelope, fixtures, tag }) {
  const shapes = loadShapes(fixtures);
  const horizon = t0 + 1.3e8; // later than any user event
  const orgs = [];
  const memberships = [];
  const tsMs = (t) => (t < 1e11 ? t * 1000 : t);
  const event = (shape, type, data, ts, lost = false) =>
    ({ svixId: msgId(), type, data, timestamp: ts, body: envelope(r, shape, type, data, ts), lost });

  for (let i = 0; i < nOrgs; i++) {
    const o = {
      id: `org_${tag}${r.id('', 23)}`,
      createdAt: t0 - r.int(1e5, 1e7),
      versions: [],
      events: [],
      deleted: null,
    };
    const withDelete = i % 3 === 1 || r.chance(0.15); // about a third, at least one
    o.endAt = withDelete ? t0 + r.int(2e7, 1.15e8) : horizon;
    const slugBase = `${r.pick(SLUG_BASES)}-${i}`;
    const creator = r.chance(0.8) && users.length ? r.pick(users).id : r.chance(0.5) ? `user_${r.id('', 27)}` : null;
    const nUpdates = r.int(1, 4);
    const at = [o.createdAt, ...times(r, o.createdAt + 1, o.endAt - 1000, nUpdates)];
    for (let v = 0; v <= nUpdates; v++) {
      const shape = r.pick(shapes.org);
      const d = structuredClone(shape.data);
      d.id = o.id;
      d.created_at = o.createdAt;
      d.updated_at = at[v];
      d.created_by = creator;
      d.name = r.pick(ORG_NAMES);
      d.slug = r.chance(0.1) ? null : r.chance(0.05) ? `${slugBase}-${'s'.repeat(255)}`.slice(0, 255) : `${slugBase}-v${v}`;
      d.has_image = r.chance(0.5);
      d.image_url = `https://img.clerk.com/${r.id('', 40)}?org=${i}&v=${v}&q=${encodeURIComponent('ä&b')}`;
      d.max_allowed_memberships = r.int(5, 100);
      d.members_count = r.int(0, 20);
      d.pending_invitations_count = r.int(0, 3);
      d.admin_delete_enabled = r.chance(0.8);
      d.public_metadata = orgMetadata(r, v);
      d.private_metadata = r.chance(0.2) ? {} : { crm_account_id: r.id('0015g', 13), risk: { reviewed: r.chance(0.5), score: 0.12 }, v };
      o.versions.push(d);
      const type = v === 0 ? 'organization.created' : 'organization.updated';
      // Lost now and then: that version can then only arrive in a snapshot.
      o.events.push(event(shape, type, d, at[v] + r.int(1, 40), r.chance(v === 0 ? 0.08 : 0.15)));
    }
    if (withDelete) {
      const data = { ...structuredClone(shapes.orgDeleted.data), id: o.id, slug: o.versions.at(-1).slug };
      o.deleted = event(shapes.orgDeleted, 'organization.deleted', data, o.endAt);
      o.events.push(o.deleted);
    }
    orgs.push(o);
  }

  // The organization as it was at time t (its versions are in time order).
  const snapshot = (o, t) => {
    let s = o.versions[0];
    for (const v of o.versions) if (v.updated_at <= t) s = v;
    return s;
  };

  for (const o of orgs) {
    const candidates = r.shuffle(users.slice()).slice(0, r.int(4, 12));
    if (r.chance(0.3)) candidates.push({ id: `user_${tag}x${r.id('', 22)}`, createdAt: t0 + r.int(0, 1e8), deleted: null, outsider: true });
    for (const u of candidates) {
      const userEnd = u.deleted ? tsMs(u.deleted.timestamp) : horizon;
      const lo = Math.max(u.createdAt, o.createdAt) + 1;
      const ends = Math.min(userEnd, o.endAt);
      const hi = ends - 60;
      if (hi - lo < 400) continue;
      // One membership, or the user removed and added again (and again).
      let n = r.chance(0.35) ? (r.chance(0.3) ? 3 : 2) : 1;
      if ((hi - lo) / n < 400) n = 1;
      const seg = Math.floor((hi - lo) / n);
      for (let k = 0; k < n; k++) {
        const last = k === n - 1;
        const segLo = lo + k * seg;
        const segHi = segLo + seg - 1;
        const nUpd = r.int(0, 3);
        // The earlier ones of a re-added pair end before the next begins.
        const ownDelete = !last || r.chance(0.2);
        const at = times(r, segLo, segHi - 200, nUpd + 1);
        const m = { id: `orgmem_${tag}${r.id('', 23)}`, orgId: o.id, userId: u.id, createdAt: at[0], events: [], deleted: null };
        const shape0 = r.pick(shapes.member);
        const pud = {
          ...structuredClone(shape0.data.public_user_data),
          user_id: u.id,
          first_name: r.pick(['Zoë', null, 'Renée', "D'Arcy"]),
          identifier: `${u.id.slice(5, 12).toLowerCase()}@example.net`,
        };
        let prev = null;
        for (let v = 0; v <= nUpd; v++) {
          const shape = v === 0 ? shape0 : r.pick(shapes.member);
          const role = r.pick(ROLES);
          const d = structuredClone(shape.data);
          d.id = m.id;
          d.created_at = m.createdAt;
          d.updated_at = at[v];
          d.organization = snapshot(o, at[v]);
          d.public_user_data = pud;
          d.role = role.role;
          d.role_name = role.role_name;
          d.permissions = role.permissions === null ? null : role.permissions.slice(0, r.int(0, role.permissions.length));
          d.public_metadata = memberMetadata(r, v);
          d.private_metadata = r.chance(0.3) ? {} : { note: `private ${v}`, v };
          const type = v === 0 ? 'organizationMembership.created' : 'organizationMembership.updated';
          m.events.push(event(shape, type, d, at[v] + r.int(1, 40)));
          prev = d;
        }
        const lastTs = m.events.at(-1).timestamp;
        // Its own delete (lost sometimes when the pair is added again), or the
        // delete Clerk may send when the organization or the user goes.
        let delTs = null;
        let lost = false;
        if (ownDelete) {
          delTs = Math.max(lastTs + 1, segHi - r.int(0, 150));
          lost = !last && r.chance(0.45);
        } else if (ends < horizon && r.chance(0.5)) {
          delTs = Math.max(lastTs + 1, ends + r.int(1, 30));
        }
        if (delTs !== null) {
          const d = { ...structuredClone(prev), organization: snapshot(o, delTs) };
          m.deleted = event(shapes.memberDeleted, 'organizationMembership.deleted', d, delTs, lost);
          m.events.push(m.deleted);
        }
        memberships.push(m);
      }
    }
  }
  return { orgs, memberships };
}

// Events clerksync does not handle, from the organization family.
export function ignoredOrgEvent(r, orgs, t0, msgId, envelope, shape) {
  const o = r.pick(orgs);
  const data = {
    created_at: t0 + r.int(0, 1e8),
    email_address: `invitee.${r.id('', 5).toLowerCase()}@example.org`,
    id: r.id('orginv_'),
    object: 'organization_invitation',
    organization_id: o.id,
    private_metadata: {},
    public_metadata: { from: 'sim' },
    role: 'org:member',
    status: 'pending',
    updated_at: t0 + r.int(0, 1e8),
  };
  const type = r.pick(['organizationInvitation.created', 'organizationInvitation.accepted', 'organizationDomain.created']);
  const ts = data.updated_at + r.int(1, 40);
  return { svixId: msgId(), type, body: envelope(r, shape, type, data, ts) };
}
