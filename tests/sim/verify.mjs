// The exactness check: the users table column by column and the events
// table row by row (users', organizations' and memberships' events), against
// what the history and the answers allow; then the organizations and
// memberships tables (orgverify.mjs).
import { isDeepStrictEqual, inspect } from 'node:util';
import { expectedUser, msToDatetime, normaliseUser, PERSONAL_COLUMNS, USER_COLUMNS } from '../integ/expect.mjs';
import { diag, ok } from '../lib/tap.mjs';
import { finalData } from './history.mjs';
import { verifyOrgs } from './orgverify.mjs';

const is2xx = (s) => s >= 200 && s < 300;
const show = (v) => inspect(v, { depth: 4, breakLength: Infinity, maxStringLength: 120 });
const TIME_COLUMNS = ['banned', 'locked', 'last_sign_in_at', 'clerk_created_at', 'clerk_updated_at'];

// sink: { ok(cond, msg), diag(msg) }, TAP by default.
function reporter(sink) {
  return (cond, msg, problems) => {
    sink.ok(cond, msg);
    if (!cond) {
      for (const p of problems.slice(0, 25)) sink.diag(`  ${p}`);
      if (problems.length > 25) sink.diag(`  ... ${problems.length - 25} more`);
    }
  };
}

export async function verify(db, hist, records, { label, app = new Map(), strict = false, sink = { ok, diag } }) {
  const report = reporter(sink);
  // --- What the wire said.
  const byId = new Map();
  for (const r of records) {
    if (!byId.has(r.svixId)) byId.set(r.svixId, []);
    byId.get(r.svixId).push(r);
  }
  const lost = records.filter((r) => !r.final);
  report(lost.length === 0, `${label}: every one of ${records.length} deliveries got a 2xx within the retries`,
    lost.map((r) => `${r.svixId} (${r.user}): ${r.attempts.length} attempts, last ${show(r.attempts.at(-1))}`));

  const all = records.flatMap((r) => r.attempts.map((a) => ({ ...a, svixId: r.svixId })));
  const internal = all.filter((a) => a.word === 'internal');
  report(internal.length === 0, `${label}: no answer was 500 internal (${all.length} attempts)`,
    internal.map((a) => `${a.svixId}: ${show(a)}`));

  const userEvents = new Map();
  for (const u of hist.users) for (const e of u.events) userEvents.set(e.svixId, { ...e, user: u });
  // Every handled event: users', organizations' and memberships' (lost ones
  // included: never sent, so never answered and never recorded).
  const handled = new Map();
  for (const [id, e] of userEvents) handled.set(id, { type: e.type, object: e.user.id, timestamp: e.timestamp });
  for (const x of [...(hist.orgs || []), ...(hist.memberships || [])]) {
    for (const e of x.events) handled.set(e.svixId, { type: e.type, object: e.data.id, timestamp: e.timestamp, lost: e.lost });
  }
  const ignoredIds = new Set(hist.ignored.map((e) => e.svixId));

  // Each svix-id: applied or stale at most once, then duplicates.
  const answered = new Map(); // svix-id -> 'applied' | 'stale' | null (only duplicates seen)
  const wireProblems = [];
  for (const [id, recs] of byId) {
    const words = recs.filter((r) => r.final).map((r) => r.final.word);
    if (ignoredIds.has(id)) {
      if (words.some((w) => w !== 'ignored')) wireProblems.push(`${id} (ignored type): ${show(words)}`);
      continue;
    }
    const firm = words.filter((w) => w === 'applied' || w === 'stale');
    if (words.some((w) => !['applied', 'stale', 'duplicate'].includes(w))) wireProblems.push(`${id}: answers ${show(words)}`);
    if (firm.length > 1) wireProblems.push(`${id}: applied/stale answered ${firm.length} times: ${show(words)}`);
    if (words.length) answered.set(id, firm[0] || null);
  }
  report(wireProblems.length === 0, `${label}: each svix-id answered applied|stale once, then duplicate; ignored types ignored`, wireProblems);

  // --- The events table.
  const rows = await db.query('SELECT svix_id, event_type, object_id, event_ts, outcome FROM clerk_webhook_events');
  const evRows = new Map(rows.map((r) => [r.svix_id, { ...r, event_ts: Number(r.event_ts) }]));
  const evProblems = [];
  for (const [id, e] of handled) {
    const row = evRows.get(id);
    if (e.lost && byId.has(id)) evProblems.push(`${id}: a lost event was sent`);
    if (!answered.has(id)) {
      if (row) evProblems.push(`${id}: never answered 2xx but has a row ${show(row)}`);
      continue;
    }
    if (!row) {
      evProblems.push(`${id} (${e.type} ${e.object}): answered ${answered.get(id)} but no events row`);
      continue;
    }
    const want = { event_type: e.type, object_id: e.object, event_ts: e.timestamp < 1e11 ? e.timestamp * 1000 : e.timestamp };
    const got = { event_type: row.event_type, object_id: row.object_id, event_ts: row.event_ts };
    if (!isDeepStrictEqual(got, want)) evProblems.push(`${id}: expected ${show(want)}, got ${show(got)}`);
    if (!['applied', 'stale'].includes(row.outcome)) evProblems.push(`${id}: outcome ${row.outcome}`);
    const said = answered.get(id);
    if (said && said !== row.outcome) evProblems.push(`${id}: answered ${said} but recorded ${row.outcome}`);
  }
  for (const [id, row] of evRows) {
    if (!handled.has(id)) evProblems.push(`${id}: unexpected events row ${show(row)}${ignoredIds.has(id) ? ' (an ignored type)' : ''}`);
  }
  const nLost = [...handled.values()].filter((e) => e.lost).length;
  report(evProblems.length === 0, `${label}: events table exact (${evRows.size} rows for ${userEvents.size} user events and ` +
    `${handled.size - userEvents.size - nLost} organization and membership events, ${nLost} lost; outcomes as answered)`, evProblems);

  // --- The users table, every row, every owned column.
  const cols = [...USER_COLUMNS, 'birthday', 'country', 'bio'];
  const urows = await db.query(`SELECT ${cols.join(', ')} FROM users`);
  const byClerk = new Map(urows.map((r) => [r.clerk_id, r]));
  const userProblems = [];
  const outcomeProblems = [];
  let compared = 0;
  for (const u of hist.users) {
    const raw = byClerk.get(u.id);
    byClerk.delete(u.id);
    if (!u.events.some((e) => answered.has(e.svixId))) {
      if (raw) userProblems.push(`${u.id}: no event answered 2xx but a row exists`);
      continue;
    }
    if (!raw) {
      userProblems.push(`${u.id}: missing row`);
      continue;
    }
    const got = normaliseUser(raw);
    const outcome = (e) => (evRows.get(e.svixId) || {}).outcome;
    const updates = u.events.filter((e) => e.type !== 'user.deleted');
    let want;
    if (u.deleted) {
      // Terminal: deleted_at from the delete's envelope, personal columns
      // NULL; the Clerk times are those of the newest update applied before
      // it (per the events table), or a bare tombstone.
      const applied = updates.filter((e) => outcome(e) === 'applied');
      const base = applied.reduce((b, e) => (!b || e.data.updated_at > b.data.updated_at ? e : b), null);
      want = base ? expectedUser(base.data) : Object.fromEntries(USER_COLUMNS.map((c) => [c, null]));
      if (!base) Object.assign(want, { banned: 0, locked: 0 });
      want.clerk_id = u.id;
      for (const c of PERSONAL_COLUMNS) want[c] = null;
      want.deleted_at = msToDatetime(u.deleted.timestamp);
      if (outcome(u.deleted) !== 'applied') outcomeProblems.push(`${u.id}: its only delete recorded ${outcome(u.deleted)}`);
      // Nothing may be applied after the delete: every applied update must
      // be at most the stored clerk_updated_at.
      for (const e of applied) {
        if (got.clerk_updated_at !== null && e.data.updated_at > got.clerk_updated_at) {
          outcomeProblems.push(`${u.id}: update ${e.svixId} (${e.data.updated_at}) recorded applied but row has ${got.clerk_updated_at}`);
        }
      }
    } else {
      const last = finalData(u);
      want = expectedUser(last.data);
      if (outcome(last) !== 'applied') outcomeProblems.push(`${u.id}: newest update ${last.svixId} recorded ${outcome(last)}`);
      // A stale one must have lost to something newer that was applied.
      for (const e of updates) {
        if (outcome(e) === 'stale' && !updates.some((o) => outcome(o) === 'applied' && o.data.updated_at > e.data.updated_at)) {
          outcomeProblems.push(`${u.id}: ${e.svixId} (${e.data.updated_at}) recorded stale with nothing newer applied`);
        }
      }
    }
    for (const c of USER_COLUMNS) {
      compared++;
      if (!isDeepStrictEqual(got[c], want[c])) userProblems.push(`${u.id}${u.deleted ? ' (deleted)' : ''} ${c}: expected ${show(want[c])}, got ${show(got[c])}`);
    }
    // App-owned columns: what the app wrote last, never touched by clerksync.
    const a = app.get(u.id) || { options: [{ bio: null, country: null, birthday: null }] };
    const mine = { bio: raw.bio, country: raw.country, birthday: raw.birthday };
    if (!a.options.some((o) => isDeepStrictEqual(o, mine))) userProblems.push(`${u.id} app columns: expected one of ${show(a.options)}, got ${show(mine)}`);
  }
  for (const id of byClerk.keys()) userProblems.push(`${id}: row for a user not in the history`);
  report(userProblems.length === 0,
    `${label}: users table exact (${urows.length} rows, ${compared} owned columns compared, app columns as the app left them)`, userProblems);
  report(outcomeProblems.length === 0, `${label}: recorded outcomes consistent with the final rows`, outcomeProblems);

  const orgs = await verifyOrgs(db, hist, { label, answered, evRows, report, strict, note: sink.diag });

  return {
    orgs,
    attempts: all.length,
    retried: records.filter((r) => r.attempts.length > 1).length,
    statuses: all.reduce((m, a) => ((m[`${a.status}${a.word ? ' ' + a.word : ''}`] = (m[`${a.status}${a.word ? ' ' + a.word : ''}`] || 0) + 1), m), {}),
    deleted: hist.users.filter((u) => u.deleted).length,
    is2xx,
  };
}
