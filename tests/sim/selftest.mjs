// The checks can fail: after a clean run of one seed, each tampering below is
// applied to the database (or to the record of the answers), the check runs
// again silently and must report at least one failure; then the tables are
// restored and the next one is tried. A tampering with no fitting row is
// skipped (named in the log).
import { diag, ok } from '../lib/tap.mjs';
import { verify } from './verify.mjs';

const TABLES = ['users', 'organizations', 'organization_memberships', 'clerk_webhook_events'];

// Each: [name, async (db, ctx) => true if applied | false if no fitting row].
const TAMPERINGS = [
  ['a live organization renamed', async (db) =>
    (await db.query("UPDATE organizations SET name = CONCAT(COALESCE(name, ''), '!') WHERE deleted_at IS NULL LIMIT 1")).affectedRows > 0],
  ['a live organization holds an older version', async (db) =>
    (await db.query('UPDATE organizations SET clerk_updated_at = clerk_updated_at - 1 WHERE deleted_at IS NULL LIMIT 1')).affectedRows > 0],
  ['a live organization has private_metadata in clerk_data', async (db) =>
    (await db.query("UPDATE organizations SET clerk_data = JSON_SET(clerk_data, '$.private_metadata', JSON_OBJECT('x', 1)) WHERE deleted_at IS NULL AND clerk_data IS NOT NULL LIMIT 1")).affectedRows > 0],
  ['a deleted organization keeps its slug', async (db) =>
    (await db.query("UPDATE organizations SET slug = 'kept' WHERE deleted_at IS NOT NULL LIMIT 1")).affectedRows > 0],
  ['a deleted organization one millisecond off', async (db) =>
    (await db.query('UPDATE organizations SET deleted_at = deleted_at + INTERVAL 1000 MICROSECOND WHERE deleted_at IS NOT NULL LIMIT 1')).affectedRows > 0],
  ['a deleted organization with a version never delivered', async (db) =>
    (await db.query('UPDATE organizations SET clerk_updated_at = 1, clerk_created_at = 1 WHERE deleted_at IS NOT NULL LIMIT 1')).affectedRows > 0],
  ['an organization brought back to life', async (db) =>
    (await db.query('UPDATE organizations SET deleted_at = NULL WHERE deleted_at IS NOT NULL LIMIT 1')).affectedRows > 0],
  ['an organization row too many', async (db) =>
    (await db.query("INSERT INTO organizations (clerk_id, name) VALUES ('org_selftest', 'extra')")).affectedRows > 0],
  ['a live membership with another role', async (db) =>
    (await db.query("UPDATE organization_memberships SET role = 'org:tampered' WHERE deleted_at IS NULL LIMIT 1")).affectedRows > 0],
  ['a live membership with other permissions', async (db) =>
    (await db.query("UPDATE organization_memberships SET permissions = '[\"org:x\"]' WHERE deleted_at IS NULL LIMIT 1")).affectedRows > 0],
  ['a live membership ended', async (db) =>
    (await db.query('UPDATE organization_memberships SET deleted_at = UTC_TIMESTAMP(3) WHERE deleted_at IS NULL LIMIT 1')).affectedRows > 0],
  ['an ended membership live again', async (db) =>
    (await db.query('UPDATE organization_memberships SET deleted_at = NULL WHERE deleted_at IS NOT NULL ORDER BY id DESC LIMIT 1')).affectedRows > 0],
  ['an ended membership one millisecond off', async (db) =>
    (await db.query('UPDATE organization_memberships SET deleted_at = deleted_at - INTERVAL 1000 MICROSECOND WHERE deleted_at IS NOT NULL LIMIT 1')).affectedRows > 0],
  ['an ended membership with a version never sent', async (db) =>
    (await db.query("UPDATE organization_memberships SET public_metadata = '{\"t\":1}' WHERE deleted_at IS NOT NULL LIMIT 1")).affectedRows > 0],
  ['two live memberships of one pair', async (db) => {
    const [m] = await db.query('SELECT org_clerk_id, user_clerk_id FROM organization_memberships WHERE deleted_at IS NULL LIMIT 1');
    if (!m) return false;
    await db.query('INSERT INTO organization_memberships (clerk_id, org_clerk_id, user_clerk_id) VALUES (?, ?, ?)',
      ['orgmem_selftest', m.org_clerk_id, m.user_clerk_id]);
    return true;
  }],
  ['an organization event without its events row', async (db) =>
    (await db.query("DELETE FROM clerk_webhook_events WHERE event_type LIKE 'organization.%' LIMIT 1")).affectedRows > 0],
  ['a membership event with another event_ts', async (db) =>
    (await db.query("UPDATE clerk_webhook_events SET event_ts = event_ts + 1 WHERE event_type LIKE 'organizationMembership.%' LIMIT 1")).affectedRows > 0],
  ['a membership event recorded with another object', async (db) =>
    (await db.query("UPDATE clerk_webhook_events SET object_id = 'orgmem_other' WHERE event_type LIKE 'organizationMembership.%' LIMIT 1")).affectedRows > 0],
  ['an organization.deleted recorded stale', async (db) =>
    (await db.query("UPDATE clerk_webhook_events SET outcome = 'stale' WHERE event_type = 'organization.deleted' LIMIT 1")).affectedRows > 0],
  ['a membership event answered applied twice', async (db, ctx) => {
    const r = ctx.records.find((x) => ctx.memberIds.has(x.svixId) && x.final && x.final.word === 'applied');
    if (!r) return false;
    ctx.records.push({ ...r, attempts: [{ ...r.final }], final: { ...r.final } });
    return true;
  }],
];

export async function selfTest(db, hist, records, { label, app }) {
  const memberIds = new Set(hist.memberships.flatMap((m) => m.events.map((e) => e.svixId)));
  for (const t of TABLES) {
    await db.query(`DROP TABLE IF EXISTS selftest_${t}`);
    await db.query(`CREATE TABLE selftest_${t} AS SELECT * FROM ${t}`);
  }
  let caught = 0;
  let tried = 0;
  const missed = [];
  try {
    for (const [name, tamper] of TAMPERINGS) {
      const ctx = { records: records.slice(), memberIds };
      if (!(await tamper(db, ctx))) {
        diag(`self-test: no row fits "${name}": skipped`);
        continue;
      }
      tried++;
      const failed = [];
      const sink = { ok: (cond, msg) => cond || failed.push(msg), diag: () => {} };
      await verify(db, hist, ctx.records, { label, app, sink });
      if (failed.length) caught++;
      else missed.push(name);
      diag(`self-test: ${name}: ${failed.length ? `caught by ${failed.map((m) => `"${m.replace(`${label}: `, '').split(' (')[0]}"`).join(', ')}` : 'NOT caught'}`);
      for (const t of TABLES) {
        await db.query(`DELETE FROM ${t}`);
        await db.query(`INSERT INTO ${t} SELECT * FROM selftest_${t}`);
      }
    }
  } finally {
    for (const t of TABLES) await db.query(`DROP TABLE IF EXISTS selftest_${t}`);
  }
  ok(missed.length === 0 && tried > TAMPERINGS.length / 2, `${label}: self-test: ${caught} of ${tried} tamperings caught by the checks${missed.length ? ` (missed: ${missed.join('; ')})` : ''}`);
}
