// Deterministic reproductions of two races in the memberships logic that
// the delivery simulator meets only by chance of timing; both were receiver
// bugs, now fixed, and this keeps them fixed (part of make check). TAP on
// stdout. What follows describes the bugs as they were.
//
// 1. A newer membership of a pair that has already ended does not end an
//    older one: Clerk keeps one membership per (organization, user), so when
//    B (created later) exists, A ended before B was created, even if A's
//    organizationMembership.deleted never arrived. clerksync ends the older
//    memberships only while a newer one is live (STMT_MEMBER_END_OLDER picks
//    the newest among live rows), so the final state depends on the order:
//    A first, then B, then B's delete: A ended; B, B's delete, then A: A live.
//
// 2. user.deleted racing a membership insert of the same user: the membership
//    upsert reads the user's tombstone with a plain subquery, which under READ
//    COMMITTED in INSERT ... SELECT is a consistent read (no lock), so it does
//    not see a user.deleted that has tombstoned the user but not committed;
//    and that user.deleted's UPDATE of the user's live memberships
//    (STMT_MEMBERS_END_USER) does not see the new row when its index scan has
//    passed the row's position. Both commit; the membership stays live for a
//    deleted user. Here the window is held open with a row lock on another
//    membership of the user (in production another receiver's transaction
//    can hold it, or the window is the time between the UPDATE and COMMIT).
//
// usage: node tests/sim/races.mjs   (after make; CLERKSYNC_BIN honoured)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConfig } from '../lib/conf.mjs';
import { cgiDriver } from '../lib/drivers.mjs';
import { startTempMariaDB } from '../lib/mariadb.mjs';
import { onCleanup, sleep, tmpDir } from '../lib/procs.mjs';
import { newMsgId, newSecret, nowSeconds, signedHeaders } from '../lib/sign.mjs';
import { diag, done, eq, ok } from '../lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.resolve(here, '..', '..');
const bin = path.resolve(process.env.CLERKSYNC_BIN || path.join(src, 'cgi-bin', 'clerksync.fcgi'));
const fx = (f) => JSON.parse(fs.readFileSync(path.join(src, 'tests', 'fixtures', 'clerk', f), 'utf8'));
const T = 1773909012004;
const USER = 'user_3AyBw4s8X0s4WmBgK2996lWIrHi'; // the fixture membership's user

function membership(id, { created, ts, type = 'organizationMembership.created', org }) {
  const e = fx('organizationMembership.created.json');
  e.type = type;
  e.data.id = id;
  e.data.created_at = created;
  e.data.updated_at = created;
  e.timestamp = ts;
  if (org) e.data.organization.id = org;
  return e;
}

const dir = tmpDir('clerksync-gaps-');
onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
const secret = newSecret();
let db;
try {
  db = await startTempMariaDB({ timeZone: '+05:30' });
  await db.createDatabase({ schemaDir: path.join(src, 'schema') });
  const conf = writeConfig(path.join(dir, 'clerksync.conf'), {
    signing_secret: secret, db_socket: db.socket, db_user: db.user, db_password: db.password, db_name: db.database,
  });
  const cgi = cgiDriver({ bin, env: { CLERKSYNC_CONFIG: conf }, dir });
  const send = async (ev, id = newMsgId()) => {
    const body = Buffer.from(JSON.stringify(ev));
    const res = await cgi.send({ headers: signedHeaders(secret, body, { id, ts: nowSeconds() }), body });
    return res.json ? res.json.status || res.json.error : res.status;
  };
  const reset = async () => {
    for (const t of ['users', 'organizations', 'organization_memberships', 'clerk_webhook_events']) await db.query(`DELETE FROM ${t}`);
  };
  const ended = async (id) => {
    const [r] = await db.query('SELECT deleted_at FROM organization_memberships WHERE clerk_id = ?', [id]);
    return r ? r.deleted_at !== null : 'no row';
  };

  // 1. The user's first membership A (its delete lost), then B after a re-add.
  const A = membership('orgmem_AAAolder', { created: T, ts: T + 10 });
  const B = membership('orgmem_BBBnewer', { created: T + 60000, ts: T + 60010 });
  const Bdel = membership('orgmem_BBBnewer', { created: T + 60000, ts: T + 90000, type: 'organizationMembership.deleted' });
  await reset();
  eq([await send(A), await send(B), await send(Bdel)], ['applied', 'applied', 'applied'], 'gap 1: A, B, B deleted: answers');
  eq({ A: await ended(A.data.id), B: await ended(B.data.id) }, { A: true, B: true }, 'gap 1: A, B, B deleted: both ended');
  await reset();
  eq([await send(B), await send(Bdel), await send(A)], ['applied', 'applied', 'applied'], 'gap 1: B, B deleted, A: answers');
  eq({ A: await ended(A.data.id), B: await ended(B.data.id) }, { A: true, B: true },
    'gap 1: B, B deleted, A: both ended (A is older than B, so it ended before B began)');

  // 2. user.deleted waits in its UPDATE of the user's memberships (on our
  // lock of M1, in the organization that sorts last) while a membership M2
  // of the same user in an organization that sorts first is inserted.
  await reset();
  const uc = fx('user.created.json');
  uc.data.id = USER;
  const M1 = membership('orgmem_M1inOrgZ', { created: T, ts: T + 10, org: 'org_ZZZsortslast' });
  const M2 = membership('orgmem_M2inOrgA', { created: T + 5, ts: T + 20, org: 'org_AAAsortsfirst' });
  const ud = fx('user.deleted.json');
  const udId = newMsgId();
  ud.data.id = USER;
  ud.timestamp = T + 100000;
  eq([await send(uc), await send(M1)], ['applied', 'applied'], 'gap 2: the user and a first membership');
  const conn = await db.rootConnection(db.database);
  let waited = false;
  let deleting;
  try {
    await conn.query('SET SESSION innodb_lock_wait_timeout = 60');
    await conn.beginTransaction();
    await conn.query('SELECT id FROM organization_memberships WHERE clerk_id = ? FOR UPDATE', [M1.data.id]);
    deleting = send(ud, udId);
    for (let i = 0; i < 40 && !waited; i++) {
      const [w] = await conn.query('SELECT p.INFO AS info FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ' +
        "ON p.ID = t.trx_mysql_thread_id WHERE t.trx_state = 'LOCK WAIT'");
      waited = w.some((r) => /^UPDATE `[A-Za-z0-9_]*organization_memberships`/.test(r.info || ''));
      if (!waited) await sleep(150);
    }
    ok(waited, 'gap 2: user.deleted waits in its UPDATE of the memberships');
    eq(await send(M2), 'applied', 'gap 2: a membership of the same user, meanwhile');
  } finally {
    await conn.rollback().catch(() => {});
    conn.destroy();
  }
  // The membership waited on the user's row; user.deleted, itself held
  // past its lock wait, answered 503, and Svix delivers it again.
  let said = await deleting;
  const first = said;
  if (said === 'unavailable') said = await send(ud, udId);
  ok(said === 'applied', `gap 2: user.deleted applied (first answer ${first}, then ${said})`);
  eq({ M1: await ended(M1.data.id), M2: await ended(M2.data.id) }, { M1: true, M2: true },
    'gap 2: every membership of the deleted user ended');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  if (db) await db.stop();
}
process.exitCode = done() ? 1 : 0;
