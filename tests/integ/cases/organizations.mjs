// Organizations and memberships: the ordering rules of users, plus the
// links between the three tables (a membership's organization snapshot,
// deletes that end memberships, one live membership per pair), the events
// setting, and an app's own column left alone.
import { newMsgId } from '../../lib/sign.mjs';
import { eq, test } from '../../lib/tap.mjs';
import { expectedMember, expectedOrg, expectedOrgDeleted, msToDatetime } from '../expect.mjs';

const ORG = 'org_3B4IN0XzuxbhgMZBFcf8xe56uH4';
const MEM = 'orgmem_3B9l9C28kcAqWVp1iUCIT91n5fG';
const MEMBER_USER = 'user_3AyBw4s8X0s4WmBgK2996lWIrHi';

const clone = (v) => JSON.parse(JSON.stringify(v));

export async function run(ctx, driver) {
  const fx = (f) => JSON.parse(ctx.fixture(f).toString('utf8'));
  const orgCreated = fx('organization.created.json');
  const orgUpdated = fx('organization.updated.json');
  const orgDeleted = fx('organization.deleted.json');
  const memCreated = fx('organizationMembership.created.json');
  const memUpdated = fx('organizationMembership.updated.json');
  const memDeleted = fx('organizationMembership.deleted.json');
  const userDeleted = fx('user.deleted.json');
  const tag = `[${driver.name}]`;

  const send = async (event, opts = {}) => {
    const res = await ctx.deliver(driver, Buffer.from(JSON.stringify(event)), opts);
    return res && res.json ? res.json.status || res.json.error : res && res.status;
  };
  // Deliver each [event, expected status]; the answers are compared at once.
  const sequence = async (name, steps) => {
    await ctx.reset();
    const got = [];
    for (const [event] of steps) got.push(await send(event));
    eq(got, steps.map((s) => s[1]), `${name} ${tag}: answers`);
  };
  // A membership of MEMBER_USER with its own id, times and organization.
  const membership = ({ id = MEM, created, updated, type = 'organizationMembership.created', org, ts } = {}) => {
    const e = clone(memCreated);
    e.type = type;
    e.data.id = id;
    if (created) e.data.created_at = created;
    if (updated) e.data.updated_at = updated;
    if (org) e.data.organization = org;
    if (ts) e.timestamp = ts;
    return e;
  };

  await test(`membership before its organization ${tag}`, async () => {
    await sequence('membership first', [
      [memCreated, 'applied'],
      [orgCreated, 'stale'],
      [orgUpdated, 'applied'],
      [memUpdated, 'applied'],
    ]);
    eq(await ctx.org(ORG), expectedOrg(orgUpdated.data), `membership first ${tag}: organization as last updated`);
    eq(await ctx.member(MEM), expectedMember(memUpdated.data), `membership first ${tag}: membership as last updated`);
  });

  await test(`older organization states are stale ${tag}`, async () => {
    await sequence('organization out of order', [
      [orgUpdated, 'applied'],
      [orgCreated, 'stale'],
      [memCreated, 'applied'],
    ]);
    eq(await ctx.org(ORG), expectedOrg(orgUpdated.data), `organization out of order ${tag}: newer state kept`);
    eq(await ctx.member(MEM), expectedMember(memCreated.data), `organization out of order ${tag}: membership written`);
  });

  await test(`membership updates in any order ${tag}`, async () => {
    await sequence('membership out of order', [
      [memUpdated, 'applied'],
      [memCreated, 'stale'],
    ]);
    eq(await ctx.member(MEM), expectedMember(memUpdated.data), `membership out of order ${tag}: newer state kept`);
  });

  await test(`organization.deleted ends its memberships ${tag}`, async () => {
    const other = membership({ id: 'orgmem_other1', created: memCreated.data.created_at + 1 });
    other.data.public_user_data = { ...other.data.public_user_data, user_id: 'user_other1' };
    await sequence('organization deleted', [
      [orgUpdated, 'applied'],
      [memCreated, 'applied'],
      [other, 'applied'],
      [orgDeleted, 'applied'],
    ]);
    const before = expectedOrg(orgUpdated.data);
    eq(await ctx.org(ORG), expectedOrgDeleted(before, orgDeleted), `organization deleted ${tag}: tombstone, personal columns cleared`);
    eq(await ctx.member(MEM), expectedMember(memCreated.data, orgDeleted.timestamp), `organization deleted ${tag}: membership ended`);
    eq(await ctx.member('orgmem_other1'), expectedMember(other.data, orgDeleted.timestamp), `organization deleted ${tag}: every membership ended`);
    // Late events of the deleted organization change nothing but what is new.
    const late = clone(orgUpdated);
    late.data.updated_at += 1000;
    eq(await send(late), 'stale', `organization deleted ${tag}: a later update is stale`);
    eq(await send(memUpdated), 'stale', `organization deleted ${tag}: an update of an ended membership is stale`);
    const born = membership({ id: 'orgmem_late1', created: memUpdated.data.updated_at + 5, updated: memUpdated.data.updated_at + 5 });
    born.data.public_user_data = { ...born.data.public_user_data, user_id: 'user_late1' };
    eq(await send(born), 'applied', `organization deleted ${tag}: a late membership is recorded`);
    eq(await ctx.member('orgmem_late1'), expectedMember(born.data, orgDeleted.timestamp),
      `organization deleted ${tag}: a membership of a deleted organization is born ended`);
    eq(await ctx.org(ORG), expectedOrgDeleted(before, orgDeleted), `organization deleted ${tag}: still a tombstone`);
  });

  await test(`organization.deleted first leaves a tombstone ${tag}`, async () => {
    await sequence('organization deleted first', [
      [orgDeleted, 'applied'],
      [orgCreated, 'stale'],
      [memCreated, 'applied'],
    ]);
    eq(await ctx.org(ORG), expectedOrgDeleted(null, orgDeleted), `organization deleted first ${tag}: tombstone only`);
    eq(await ctx.member(MEM), expectedMember(memCreated.data, orgDeleted.timestamp), `organization deleted first ${tag}: membership born ended`);
  });

  await test(`user.deleted ends the user's memberships ${tag}`, async () => {
    const del = clone(userDeleted);
    del.data.id = MEMBER_USER;
    // The same organization snapshot, so that only the membership counts.
    const laterSameOrg = clone(memUpdated);
    laterSameOrg.data.organization = memCreated.data.organization;
    await sequence('user deleted', [
      [memCreated, 'applied'],
      [del, 'applied'],
      [laterSameOrg, 'stale'],
      [memUpdated, 'applied'],
    ]);
    eq(await ctx.member(MEM), expectedMember(memCreated.data, del.timestamp), `user deleted ${tag}: membership ended at the delete's time`);
    eq(await ctx.org(ORG), expectedOrg(memUpdated.data.organization),
      `user deleted ${tag}: a newer organization snapshot is still applied (the event counts as applied)`);
    const [u] = await ctx.db.query('SELECT deleted_at FROM users WHERE clerk_id = ?', [MEMBER_USER]);
    eq(u && u.deleted_at, msToDatetime(del.timestamp), `user deleted ${tag}: user tombstone`);
    await sequence('user deleted first', [
      [del, 'applied'],
      [memCreated, 'applied'],
    ]);
    eq(await ctx.member(MEM), expectedMember(memCreated.data, del.timestamp), `user deleted first ${tag}: membership born ended`);
  });

  await test(`organizationMembership.deleted is terminal ${tag}`, async () => {
    await sequence('membership deleted first', [
      [memDeleted, 'applied'],
      [memCreated, 'stale'],
      [memUpdated, 'stale'],
    ]);
    eq(await ctx.member(MEM), expectedMember(memDeleted.data, memDeleted.timestamp), `membership deleted first ${tag}: tombstone with the last data`);
    await sequence('membership deleted last', [
      [memCreated, 'applied'],
      [memDeleted, 'applied'],
    ]);
    eq(await ctx.member(MEM), expectedMember(memCreated.data, memDeleted.timestamp), `membership deleted last ${tag}: ended, its data as it was`);
    eq(await ctx.org(ORG), expectedOrg(memDeleted.data.organization), `membership deleted last ${tag}: the snapshot still updates the organization`);
  });

  await test(`one live membership per organization and user ${tag}`, async () => {
    const t0 = memCreated.data.created_at;
    const old = membership({ id: 'orgmem_aaaold', created: t0, updated: t0 });
    const neu = membership({ id: 'orgmem_zzznew', created: t0 + 60000, updated: t0 + 60000, ts: memCreated.timestamp + 60000 });
    await sequence('re-added, old first', [[old, 'applied'], [neu, 'applied']]);
    eq([await ctx.member('orgmem_aaaold'), await ctx.member('orgmem_zzznew')],
      [expectedMember(old.data, neu.timestamp), expectedMember(neu.data)], `re-added, old first ${tag}: the older one ended`);
    await sequence('re-added, new first', [[neu, 'applied'], [old, 'applied']]);
    eq([await ctx.member('orgmem_aaaold'), await ctx.member('orgmem_zzznew')],
      [expectedMember(old.data, old.timestamp), expectedMember(neu.data)], `re-added, new first ${tag}: the late older one ended at once`);
    // Another user in the same organization is not touched.
    const peer = membership({ id: 'orgmem_peer01', created: t0 + 1, updated: t0 + 1 });
    peer.data.public_user_data = { ...peer.data.public_user_data, user_id: 'user_peer01' };
    eq(await send(peer), 'applied', `re-added ${tag}: a peer's membership`);
    eq(await ctx.member('orgmem_peer01'), expectedMember(peer.data), `re-added ${tag}: the peer's membership stays live`);
  });

  await test(`duplicates of membership events ${tag}`, async () => {
    await ctx.reset();
    const id = newMsgId();
    const body = Buffer.from(JSON.stringify(memCreated));
    const first = await ctx.deliver(driver, body, { id });
    const again = await ctx.deliver(driver, body, { id });
    eq([first.json && first.json.status, again.json && again.json.status], ['applied', 'duplicate'], `duplicate ${tag}: applied, then duplicate`);
    eq(await ctx.orgCounts(), { organizations: 1, memberships: 1 }, `duplicate ${tag}: one row each`);
  });
}

// The events setting, keep_deleted_data for organizations, and columns
// that the app adds to the new tables.
export async function settings(ctx) {
  const fx = (f) => JSON.parse(ctx.fixture(f).toString('utf8'));
  const orgUpdated = fx('organization.updated.json');
  const orgDeleted = fx('organization.deleted.json');
  const memCreated = fx('organizationMembership.created.json');

  await test('events = users', async () => {
    const cgi = ctx.cgiDriver({ conf: ctx.config({ events: 'users' }) });
    await ctx.reset();
    const got = [];
    for (const f of ['organization.updated.json', 'organizationMembership.created.json', 'user.created.json']) {
      const res = await ctx.deliver(cgi, ctx.fixture(f));
      got.push(res.json && res.json.status);
    }
    eq(got, ['ignored', 'ignored', 'applied'], 'events = users: organization events ignored, users applied');
    eq({ ...(await ctx.counts()), ...(await ctx.orgCounts()) }, { users: 1, events: 1, organizations: 0, memberships: 0 },
      'events = users: nothing written for the ignored ones');
  });

  await test('events = users organizations', async () => {
    const cgi = ctx.cgiDriver({ conf: ctx.config({ events: 'users organizations' }) });
    await ctx.reset();
    const a = await ctx.deliver(cgi, ctx.fixture('organizationMembership.created.json'));
    const b = await ctx.deliver(cgi, ctx.fixture('organization.updated.json'));
    eq([a.json && a.json.status, b.json && b.json.status], ['ignored', 'applied'], 'events = users organizations: memberships ignored');
    eq(await ctx.orgCounts(), { organizations: 1, memberships: 0 }, 'events = users organizations: no membership row');
  });

  await test('keep_deleted_data = on, organizations', async () => {
    const cgi = ctx.cgiDriver({ env: { CLERKSYNC_KEEP_DELETED_DATA: 'on' } });
    await ctx.reset();
    await ctx.deliver(cgi, Buffer.from(JSON.stringify(orgUpdated)));
    await ctx.deliver(cgi, Buffer.from(JSON.stringify(orgDeleted)));
    eq(await ctx.org(ORG), expectedOrgDeleted(expectedOrg(orgUpdated.data), orgDeleted, { keep: true }),
      'keep_deleted_data = on: the organization keeps its columns');
  });

  await test('app columns on organizations and memberships', async () => {
    await ctx.reset();
    await ctx.db.query('ALTER TABLE organizations ADD COLUMN crm_id VARCHAR(32) NULL');
    await ctx.db.query('ALTER TABLE organization_memberships ADD COLUMN seat_note TEXT NULL');
    try {
      await ctx.deliver(ctx.cgi, Buffer.from(JSON.stringify(memCreated)));
      await ctx.db.query("UPDATE organizations SET crm_id = 'crm-1' WHERE clerk_id = ?", [ORG]);
      await ctx.db.query("UPDATE organization_memberships SET seat_note = 'paid' WHERE clerk_id = ?", [MEM]);
      const later = fx('organizationMembership.updated.json');
      const res = await ctx.deliver(ctx.cgi, Buffer.from(JSON.stringify(later)));
      const [o] = await ctx.db.query('SELECT crm_id FROM organizations WHERE clerk_id = ?', [ORG]);
      const [m] = await ctx.db.query('SELECT seat_note FROM organization_memberships WHERE clerk_id = ?', [MEM]);
      eq([res.json && res.json.status, o && o.crm_id, m && m.seat_note], ['applied', 'crm-1', 'paid'],
        "app columns: an update leaves the app's values");
      eq(await ctx.member(MEM), expectedMember(later.data), 'app columns: the owned columns updated');
    } finally {
      await ctx.db.query('ALTER TABLE organizations DROP COLUMN crm_id');
      await ctx.db.query('ALTER TABLE organization_memberships DROP COLUMN seat_note');
    }
  });
}
