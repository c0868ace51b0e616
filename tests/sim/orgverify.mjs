// The exactness check for organizations and memberships: every row, every
// owned column, against what the history and the recorded outcomes allow.
//
// organizations: a live organization is exactly the newest version that any
// delivered event carried (its own events or a membership's snapshot); a
// deleted one has deleted_at from its delete, the personal columns NULL and
// the Clerk times of one delivered version (or none: a bare tombstone).
//
// organization_memberships: a membership must have ended iff its own delete
// was delivered, its organization or its user was deleted, or a newer
// membership of the same (organization, user) exists in the history (Clerk
// keeps one per pair, so the older one ended, even if its delete was lost).
// A live one is exactly its newest version; an ended one holds one of its
// delivered versions, written by an event recorded applied, and deleted_at is
// one of the times that may legitimately have ended it:
//   its own delete's, the organization's delete's, the user's delete's,
//   that of an applied event (create, update or delete) of a newer
//   membership of the pair, or
//   that of one of its own applied creates/updates (it arrived after a newer
//   one was live, and was ended at once).
// At most one membership per pair is live.
import { isDeepStrictEqual, inspect } from 'node:util';
import { expectedMember, expectedOrg, MEMBER_COLUMNS, msToDatetime, normaliseRow, ORG_COLUMNS, ORG_PERSONAL_COLUMNS } from '../integ/expect.mjs';

const show = (v) => inspect(v, { depth: 4, breakLength: Infinity, maxStringLength: 120 });
const tsMs = (t) => (t < 1e11 ? t * 1000 : t);
const VALID_ID = /^[A-Za-z0-9_-]{1,64}$/;
const isUpsert = (e) => !e.type.endsWith('.deleted');

// The row clerksync writes from an organization object: created_by is kept
// only when it is a Clerk id.
export function orgRow(o) {
  const row = expectedOrg(o);
  if (typeof row.created_by !== 'string' || !VALID_ID.test(row.created_by)) row.created_by = null;
  return row;
}

const withoutEnd = (row) => ({ ...row, deleted_at: null });

/*
 * db, hist; answered: svix-id -> 'applied' | 'stale' | null (answered 2xx);
 * evRows: svix-id -> events row; report(cond, msg, problems); strict: a
 * known receiver gap (see below) fails instead of being noted.
 */
export async function verifyOrgs(db, hist, { label, answered, evRows, report, strict = false, note = () => {} }) {
  const orgs = hist.orgs || [];
  const members = hist.memberships || [];
  const delivered = (e) => !e.lost && answered.has(e.svixId);
  const outcome = (e) => (evRows.get(e.svixId) || {}).outcome;
  const applied = (e) => outcome(e) === 'applied';
  const usersById = new Map(hist.users.map((u) => [u.id, u]));
  const stats = { orgEvents: 0, memberEvents: 0, lost: 0, orgsDeleted: 0, membersEnded: 0, gaps: [] };
  for (const o of orgs) for (const e of o.events) e.lost ? stats.lost++ : stats.orgEvents++;
  for (const m of members) for (const e of m.events) e.lost ? stats.lost++ : stats.memberEvents++;

  // Every organization version a delivered event carried, with the event.
  const carried = new Map(orgs.map((o) => [o.id, []]));
  for (const o of orgs) for (const e of o.events) if (isUpsert(e) && delivered(e)) carried.get(o.id).push({ e, data: e.data });
  for (const m of members) for (const e of m.events) if (delivered(e)) carried.get(m.orgId).push({ e, data: e.data.organization });
  const touched = (o) => carried.get(o.id).length > 0 || (o.deleted && delivered(o.deleted));

  // --- organizations
  const orgRaw = await db.query(`SELECT ${ORG_COLUMNS.join(', ')} FROM organizations`);
  const orgRows = new Map(orgRaw.map((r) => [r.clerk_id, normaliseRow(r, ORG_COLUMNS)]));
  const orgProblems = [];
  const orgOutcomes = [];
  let compared = 0;
  for (const o of orgs) {
    const got = orgRows.get(o.id);
    orgRows.delete(o.id);
    if (!touched(o)) {
      if (got) orgProblems.push(`${o.id}: no event of it delivered, yet a row ${show(got)}`);
      continue;
    }
    if (!got) {
      orgProblems.push(`${o.id}: missing row`);
      continue;
    }
    const versions = carried.get(o.id);
    const mine = o.events.filter((e) => isUpsert(e) && delivered(e));
    if (o.deleted && delivered(o.deleted)) {
      stats.orgsDeleted++;
      if (!applied(o.deleted)) orgOutcomes.push(`${o.id}: its delete recorded ${outcome(o.deleted)}`);
      // Which version it held when the tombstone came is the race's; it is
      // one that was delivered, written by an event recorded applied.
      const options = [null, ...new Set(versions.map((v) => v.data.updated_at))];
      const want = (upd) => {
        const base = upd === null ? Object.fromEntries(ORG_COLUMNS.map((c) => [c, null]))
          : orgRow(versions.find((v) => v.data.updated_at === upd).data);
        for (const c of ORG_PERSONAL_COLUMNS) base[c] = null;
        return { ...base, clerk_id: o.id, deleted_at: msToDatetime(o.deleted.timestamp) };
      };
      compared += ORG_COLUMNS.length;
      if (!options.some((upd) => isDeepStrictEqual(got, want(upd)))) {
        const near = want(options.includes(got.clerk_updated_at) ? got.clerk_updated_at : null);
        const diff = ORG_COLUMNS.filter((c) => !isDeepStrictEqual(got[c], near[c]));
        orgProblems.push(`${o.id} (deleted): ${diff.map((c) => `${c}: expected ${show(near[c])}, got ${show(got[c])}`).join('; ')}` +
          ` (clerk_updated_at allowed: ${show(options)})`);
      }
      if (got.clerk_updated_at !== null && !versions.some((v) => v.data.updated_at === got.clerk_updated_at && applied(v.e))) {
        orgOutcomes.push(`${o.id} (deleted): holds version ${got.clerk_updated_at} but no event carrying it is recorded applied`);
      }
      for (const e of mine) {
        if (applied(e) && (got.clerk_updated_at === null || e.data.updated_at > got.clerk_updated_at)) {
          orgOutcomes.push(`${o.id} (deleted): ${e.svixId} (${e.data.updated_at}) recorded applied but the row holds ${got.clerk_updated_at}`);
        }
      }
    } else {
      const newest = versions.reduce((b, v) => (!b || v.data.updated_at > b.data.updated_at ? v : b), null);
      const want = orgRow(newest.data);
      for (const c of ORG_COLUMNS) {
        compared++;
        if (!isDeepStrictEqual(got[c], want[c])) orgProblems.push(`${o.id} ${c}: expected ${show(want[c])}, got ${show(got[c])}`);
      }
      if (!versions.some((v) => v.data.updated_at === newest.data.updated_at && applied(v.e))) {
        orgOutcomes.push(`${o.id}: no event carrying its newest version ${newest.data.updated_at} recorded applied`);
      }
      // A stale organization event lost to another that carried as new a version.
      for (const e of mine) {
        if (outcome(e) === 'stale' && !versions.some((v) => v.e !== e && v.data.updated_at >= e.data.updated_at)) {
          orgOutcomes.push(`${o.id}: ${e.svixId} (${e.data.updated_at}) recorded stale with nothing as new delivered`);
        }
      }
    }
  }
  for (const [id, row] of orgRows) orgProblems.push(`${id}: row for an organization not in the history ${show(row)}`);
  report(orgProblems.length === 0, `${label}: organizations table exact (${orgRaw.length} rows, ${stats.orgsDeleted} deleted, ` +
    `${compared} owned columns compared)`, orgProblems);

  // --- memberships
  const memRaw = await db.query(`SELECT ${MEMBER_COLUMNS.join(', ')} FROM organization_memberships`);
  const memAll = new Map(memRaw.map((r) => [r.clerk_id, normaliseRow(r, MEMBER_COLUMNS)]));
  const memRows = new Map(memAll); // those not yet matched to the history
  const pairs = new Map();
  for (const m of members) {
    const k = `${m.orgId} ${m.userId}`;
    if (!pairs.has(k)) pairs.set(k, []);
    pairs.get(k).push(m);
  }
  // Clerk's order, and clerksync's: (created_at, id).
  for (const list of pairs.values()) list.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const orgById = new Map(orgs.map((o) => [o.id, o]));
  const memProblems = [];
  const memOutcomes = [];
  const reasons = { own: 0, org: 0, user: 0, newer: 0 };
  compared = 0;
  for (const m of members) {
    const got = memRows.get(m.id);
    memRows.delete(m.id);
    const dev = m.events.filter(delivered);
    if (!dev.length) {
      if (got) memProblems.push(`${m.id}: no event of it delivered, yet a row ${show(got)}`);
      continue;
    }
    if (!got) {
      memProblems.push(`${m.id}: missing row`);
      continue;
    }
    const o = orgById.get(m.orgId);
    const u = usersById.get(m.userId);
    const pair = pairs.get(`${m.orgId} ${m.userId}`);
    const newer = pair.slice(pair.indexOf(m) + 1).filter((n) => n.events.some(delivered));
    const ends = [];
    if (m.deleted && delivered(m.deleted)) ends.push(['own delete', m.deleted]);
    if (o.deleted && delivered(o.deleted)) ends.push(['organization deleted', o.deleted]);
    if (u && u.deleted && delivered(u.deleted)) ends.push(['user deleted', u.deleted]);
    const shouldEnd = ends.length > 0 || newer.length > 0;
    const ups = dev.filter(isUpsert);
    const tag = `${m.id} (${m.orgId} ${m.userId})`;
    compared += MEMBER_COLUMNS.length;
    if (got.deleted_at === null) {
      if (shouldEnd) {
        // Known receiver gap: clerksync ends the older memberships of a pair
        // only while a newer one is live. When every newer one had ended
        // before this one's events came (and its own delete was lost), it
        // stays live.
        const gap = ends.length === 0 && newer.every((n) => memAll.has(n.id) && memAll.get(n.id).deleted_at !== null);
        const why = `${tag}: live, but ${ends.length ? ends.map((x) => x[0]).join(', ') : ''}${ends.length && newer.length ? '; ' : ''}` +
          `${newer.length ? `a newer membership of the pair exists (${newer.map((n) => n.id).join(', ')})` : ''}`;
        if (gap) {
          stats.gaps.push(`${why}: every newer one had ended before it arrived, and its own delete was lost`);
          if (strict) memProblems.push(`${why} [receiver gap: a newer, already ended membership does not end an older one]`);
        } else memProblems.push(why);
      }
      if (!ups.length) {
        memProblems.push(`${tag}: live, but only its delete was delivered`);
        continue;
      }
      const newest = ups.reduce((b, e) => (!b || e.data.updated_at > b.data.updated_at ? e : b), null);
      const want = expectedMember(newest.data);
      for (const c of MEMBER_COLUMNS) if (!isDeepStrictEqual(got[c], want[c])) memProblems.push(`${tag} ${c}: expected ${show(want[c])}, got ${show(got[c])}`);
      if (!applied(newest)) memOutcomes.push(`${tag}: live, but its newest version ${newest.svixId} recorded ${outcome(newest)}`);
      for (const e of ups) {
        if (outcome(e) === 'stale' && !ups.some((x) => x !== e && applied(x) && x.data.updated_at >= e.data.updated_at)) {
          memOutcomes.push(`${tag}: ${e.svixId} (${e.data.updated_at}) recorded stale with nothing as new applied`);
        }
      }
      continue;
    }
    stats.membersEnded++;
    if (!shouldEnd) {
      memProblems.push(`${tag}: ended at ${got.deleted_at}, but nothing in the history ends it`);
      continue;
    }
    // When: one of the times that may have ended it.
    const when = new Map();
    const add = (ts, why) => when.set(msToDatetime(tsMs(ts)), why);
    for (const [why, e] of ends) add(e.timestamp, why);
    for (const n of newer) for (const e of n.events) if (delivered(e) && applied(e)) add(e.timestamp, `${e.type} of newer ${n.id}`);
    if (newer.length) for (const e of ups) if (applied(e)) add(e.timestamp, `own ${e.type}, after a newer one`);
    if (!when.has(got.deleted_at)) {
      memProblems.push(`${tag}: deleted_at ${got.deleted_at} is none of ${show([...when].map(([t, w]) => `${t} (${w})`))}`);
    } else {
      const w = when.get(got.deleted_at);
      reasons[w === 'own delete' ? 'own' : w === 'organization deleted' ? 'org' : w === 'user deleted' ? 'user' : 'newer']++;
    }
    // What: one of its delivered versions, written by an event recorded applied.
    const versions = dev.filter((e) => isDeepStrictEqual(withoutEnd(got), expectedMember(e.data)));
    if (!versions.length) {
      const near = dev.reduce((b, e) => (!b || e.data.updated_at > b.data.updated_at ? e : b), null);
      const want = expectedMember(near.data);
      memProblems.push(`${tag} (ended): columns are none of its ${dev.length} delivered versions; against the newest: ` +
        MEMBER_COLUMNS.filter((c) => c !== 'deleted_at' && !isDeepStrictEqual(got[c], want[c]))
          .map((c) => `${c}: expected ${show(want[c])}, got ${show(got[c])}`).join('; '));
    } else if (!versions.some(applied)) {
      memOutcomes.push(`${tag} (ended): holds version ${got.clerk_updated_at}, but no event carrying it is recorded applied`);
    }
  }
  for (const [id, row] of memRows) memProblems.push(`${id}: row for a membership not in the history ${show(row)}`);
  // One live membership per (organization, user).
  const live = new Map();
  for (const r of memRaw) {
    if (r.deleted_at !== null) continue;
    const k = `${r.org_clerk_id} ${r.user_clerk_id}`;
    live.set(k, [...(live.get(k) || []), r.clerk_id]);
  }
  const several = [...live].filter(([, ids]) => ids.length > 1);
  report(memProblems.length === 0, `${label}: organization_memberships table exact (${memRaw.length} rows, ${stats.membersEnded} ended: ` +
    `${reasons.own} by their delete, ${reasons.org} by the organization's, ${reasons.user} by the user's, ${reasons.newer} by a newer one; ` +
    `${compared} owned columns compared)`, memProblems);
  report(several.length === 0, `${label}: at most one live membership per (organization, user) (${live.size} live pairs)`,
    several.map(([k, ids]) => `${k}: live ${ids.join(', ')}`));
  report(orgOutcomes.length + memOutcomes.length === 0, `${label}: recorded outcomes of organization and membership events consistent with the rows`,
    [...orgOutcomes, ...memOutcomes]);
  for (const g of stats.gaps) note(`known receiver gap (passes unless --strict): ${g}`);
  return stats;
}
