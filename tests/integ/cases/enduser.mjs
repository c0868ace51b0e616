// SPEC §1: an event Clerk signed is never refused for what an end user can
// put in it. Each case delivers, for one user, an event whose content
// cannot all be stored as sent, in the same event as a ban: 200 applied,
// the degraded column NULL (or clerk_data without the offending member)
// with a warning in the log, every other column applied, and a later
// update of the same user, still carrying that content, applied too.
import fs from 'node:fs';
import { eq, ok, test } from '../../lib/tap.mjs';
import { newMsgId } from '../../lib/sign.mjs';
import { expectedMember, expectedOrg, expectedUser } from '../expect.mjs';

const deep = (n) => '['.repeat(n) + ']'.repeat(n);

// Each: fields of data (a value '@RAW' is replaced by raw, as sent), the
// columns expected other than as expectedUser computes them, the members
// clerk_data goes without, and a word of the warning (null: none).
const CASES = [
  {
    what: 'unsafe_metadata nested 63 deep (the body 65)',
    set: { unsafe_metadata: '@RAW' }, raw: deep(63),
    drop: ['unsafe_metadata'], warn: 'clerk_data',
  },
  {
    what: 'a member name holding \\u0000 in unsafe_metadata',
    set: { unsafe_metadata: '@RAW' }, raw: '{"a\\u0000b":1}',
    fix: (d) => { d.unsafe_metadata = { 'a\u0000b': 1 }; }, warn: null,
  },
  {
    what: 'a lone surrogate in first_name',
    set: { first_name: '@RAW' }, raw: '"Zo\\ud800"',
    cols: { first_name: null }, drop: ['first_name'], warn: 'first_name',
  },
  {
    what: 'a lone surrogate in unsafe_metadata',
    set: { unsafe_metadata: '@RAW' }, raw: '{"k":"\\udc00"}',
    drop: ['unsafe_metadata'], warn: 'clerk_data',
  },
  {
    what: 'a lone surrogate in public_metadata',
    set: { public_metadata: '@RAW' }, raw: '{"\\ud83d":1}',
    cols: { public_metadata: null }, drop: ['public_metadata'], warn: 'public_metadata',
  },
  {
    what: 'first_name of 257 characters',
    set: { first_name: 'x'.repeat(257) }, cols: { first_name: null }, warn: 'first_name',
  },
  {
    what: 'username a number',
    set: { username: 42 }, cols: { username: null }, warn: 'username',
  },
  {
    what: '"ab\\u0000cd" in first_name',
    set: { first_name: '@RAW' }, raw: '"ab\\u0000cd"',
    fix: (d) => { d.first_name = 'ab\u0000cd'; }, hex: { first_name: '6162006364' }, warn: null,
  },
];

function body(base, updatedAt, c, extra) {
  const ev = structuredClone(base);
  Object.assign(ev.data, { updated_at: updatedAt }, c.set, extra);
  return JSON.stringify(ev).replace('"@RAW"', () => c.raw);
}

function expected(base, updatedAt, c, extra) {
  const d = structuredClone(base.data);
  Object.assign(d, { updated_at: updatedAt }, c.set, extra);
  if (c.fix) c.fix(d);
  const want = expectedUser(d);
  for (const k of c.drop || []) delete want.clerk_data[k];
  return { ...want, ...(c.cols || {}) };
}

async function hexOf(ctx, id, col) {
  const [r] = await ctx.db.query(`SELECT HEX(${col}) AS h FROM users WHERE clerk_id = ?`, [id]);
  return r ? r.h : undefined;
}

export async function run(ctx, drivers) {
  const base = JSON.parse(ctx.fixture('user.created.json'));
  base.type = 'user.updated';
  delete base.data.private_metadata;
  base.data.banned = false;
  base.data.locked = false;
  const id = base.data.id;
  const t0 = base.data.updated_at;

  for (const driver of drivers) {
    for (const c of CASES) {
      await test(`end user content: ${c.what} [${driver.name}]`, async () => {
        const tag = `${c.what} [${driver.name}]`;
        await ctx.reset();
        ctx.expectAnswer(await ctx.deliver(driver, JSON.stringify({ ...base, data: { ...base.data, updated_at: t0 } })),
          { status: 200, body: 'applied' }, `${tag}: the user before`);

        const sid = newMsgId();
        const logBefore = fs.existsSync(ctx.log) ? fs.statSync(ctx.log).size : 0;
        const ban = { banned: true };
        ctx.expectAnswer(await ctx.deliver(driver, body(base, t0 + 1, c, ban), { id: sid }),
          { status: 200, body: 'applied' }, `${tag}: applied`);
        eq(await ctx.user(id), expected(base, t0 + 1, c, ban), `${tag}: every column, banned flipped by the same event`);
        for (const [col, h] of Object.entries(c.hex || {})) eq(await hexOf(ctx, id, col), h, `${tag}: ${col} byte for byte`);
        const log = fs.readFileSync(ctx.log, 'utf8').slice(logBefore).split('\n').filter((l) => l.includes(`svix_id=${sid}`));
        if (c.warn) {
          ok(log.some((l) => l.includes(c.warn) && /NULL|without/.test(l)), `${tag}: a warning names ${c.warn} (${log.join(' | ').slice(0, 200)})`);
        } else {
          ok(!log.some((l) => / NULL|without/.test(l)), `${tag}: stored as sent, no warning`);
        }

        // Later, the same content still there: the update applies.
        const lock = { banned: true, locked: true, last_name: 'Later' };
        ctx.expectAnswer(await ctx.deliver(driver, body(base, t0 + 2, c, lock)),
          { status: 200, body: 'applied' }, `${tag}: a later update applies`);
        eq(await ctx.user(id), expected(base, t0 + 2, c, lock), `${tag}: the later update's columns`);
        eq(await ctx.counts(), { users: 1, events: 3 }, `${tag}: one row, three events`);
      });
    }
  }
}

// The same rule for organizations and memberships: an organization whose
// name holds a lone surrogate and whose public_metadata nests 63 deep, and
// a membership whose role is a number, apply with those columns NULL.
export async function organizations(ctx, drivers) {
  const org = JSON.parse(ctx.fixture('organization.updated.json'));
  const mem = JSON.parse(ctx.fixture('organizationMembership.updated.json'));
  for (const driver of drivers) {
    await test(`end user content: organization and membership [${driver.name}]`, async () => {
      const tag = `organization and membership [${driver.name}]`;
      await ctx.reset();
      const o = structuredClone(org);
      o.data.slug = 'still-synced';
      o.data.name = '@NAME';
      o.data.public_metadata = '@DEEP';
      const oBody = JSON.stringify(o).replace('"@NAME"', () => '"Acme \\udc00"').replace('"@DEEP"', () => deep(63));
      ctx.expectAnswer(await ctx.deliver(driver, oBody), { status: 200, body: 'applied' }, `${tag}: organization applied`);
      const wantOrg = expectedOrg(o.data);
      wantOrg.name = null;
      wantOrg.public_metadata = null;
      delete wantOrg.clerk_data.name;
      delete wantOrg.clerk_data.public_metadata;
      eq(await ctx.org(o.data.id), wantOrg, `${tag}: name and public_metadata NULL, clerk_data without them, slug synced`);

      const m = structuredClone(mem);
      m.data.role = 7;
      m.data.organization = { ...o.data, name: 'Acme' };
      m.data.organization.public_metadata = {};
      m.data.organization.updated_at = o.data.updated_at + 1;
      ctx.expectAnswer(await ctx.deliver(driver, JSON.stringify(m)), { status: 200, body: 'applied' }, `${tag}: membership applied`);
      eq(await ctx.member(m.data.id), { ...expectedMember(m.data), role: null }, `${tag}: role NULL, the rest synced`);
      eq(await ctx.org(o.data.id), expectedOrg(m.data.organization), `${tag}: the snapshot, newer, replaces the degraded row`);
    });
  }
}
