import { newMsgId } from '../../lib/sign.mjs';
import { eq, test } from '../../lib/tap.mjs';
import { expectedDeleted, expectedUser } from '../expect.mjs';

const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV';
const U = 'user_3AGEFmml9Hbblv3lXYgyrUDiJvR';

export function withData(buf, changes, envelope = {}) {
  const ev = JSON.parse(buf.toString('utf8'));
  Object.assign(ev.data, changes);
  Object.assign(ev, envelope);
  return Buffer.from(JSON.stringify(ev));
}

async function sequence(ctx, driver, name, steps) {
  await ctx.reset();
  const events = [];
  for (const [i, step] of steps.entries()) {
    const body = Buffer.isBuffer(step.body) ? step.body : ctx.fixture(step.file);
    const ev = JSON.parse(body.toString('utf8'));
    const id = step.id || newMsgId();
    if (step.before) await step.before();
    const res = await ctx.deliver(driver, body, { id });
    ctx.expectAnswer(res, { status: 200, body: step.expect }, `${name} [${driver.name}]: step ${i + 1} ${step.file || 'event'} -> ${step.expect}`);
    if (step.expect === 'applied' || step.expect === 'stale') {
      events.push({ svix_id: id, event_type: ev.type, object_id: ev.data.id, event_ts: ev.timestamp < 1e11 ? ev.timestamp * 1000 : ev.timestamp, outcome: step.expect, received_at_utc: 1 });
    }
  }
  const got = await ctx.events();
  const key = (e) => e.svix_id;
  eq(got.slice().sort((a, b) => key(a).localeCompare(key(b))), events.sort((a, b) => key(a).localeCompare(key(b))), `${name} [${driver.name}]: event rows`);
}

const dataOf = (ctx, file) => JSON.parse(ctx.fixture(file)).data;
const eventOf = (ctx, file) => JSON.parse(ctx.fixture(file));

export async function run(ctx, driver) {
  const created = expectedUser(dataOf(ctx, 'user.created.json'));
  const updated = expectedUser(dataOf(ctx, 'user.updated.json'));
  const deletedEv = eventOf(ctx, 'user.deleted.json');

  await test('created, stale, updated', async () => {
    await sequence(ctx, driver, 'created, stale, updated', [
      { file: 'user.created.json', expect: 'applied' },
      { file: 'user.updated.stale.json', expect: 'applied' },
      { file: 'user.updated.json', expect: 'applied' },
    ]);
    eq(await ctx.user(Z), updated, `created, stale, updated [${driver.name}]: row is user.updated.json`);
  });

  await test('stale update after newer', async () => {
    await sequence(ctx, driver, 'stale update after newer', [
      { file: 'user.created.json', expect: 'applied' },
      { file: 'user.updated.json', expect: 'applied' },
      { file: 'user.updated.stale.json', expect: 'stale' },
    ]);
    const row = await ctx.user(Z);
    eq(row, updated, `stale update after newer [${driver.name}]: row is user.updated.json`);
    eq(row && row.email, 'z.angstrom@example.net', `stale update after newer [${driver.name}]: primary email`);
  });

  await test('update before create', async () => {
    await sequence(ctx, driver, 'update before create', [
      { file: 'user.updated.json', expect: 'applied' },
      { file: 'user.created.json', expect: 'stale' },
    ]);
    eq(await ctx.user(Z), updated, `update before create [${driver.name}]: row is user.updated.json`);
  });

  await test('equal updated_at is a no-op', async () => {
    const same = withData(ctx.fixture('user.created.json'), { first_name: 'Changed' });
    await sequence(ctx, driver, 'equal updated_at', [
      { file: 'user.created.json', expect: 'applied' },
      { body: same, expect: 'stale' },
    ]);
    eq(await ctx.user(Z), created, `equal updated_at [${driver.name}]: row unchanged`);
  });

  await test('delete, then late update', async () => {
    await sequence(ctx, driver, 'delete, then late update', [
      { file: 'user.created.json', expect: 'applied' },
      { file: 'user.deleted.json', expect: 'applied' },
      { file: 'user.updated.json', expect: 'stale' },
      { file: 'user.created.json', expect: 'stale' },
    ]);
    eq(await ctx.user(Z), expectedDeleted(created, deletedEv), `delete, then late update [${driver.name}]: row stays deleted and cleared`);
  });

  await test('delete of unknown user leaves a tombstone', async () => {
    await sequence(ctx, driver, 'tombstone', [
      { file: 'user.deleted.json', expect: 'applied' },
      { file: 'user.created.json', expect: 'stale' },
      { file: 'user.updated.json', expect: 'stale' },
    ]);
    eq(await ctx.user(Z), expectedDeleted(null, deletedEv), `tombstone [${driver.name}]: late create stays deleted`);
  });

  await test('second delete is stale', async () => {
    const later = withData(ctx.fixture('user.deleted.json'), {}, { timestamp: deletedEv.timestamp + 60000 });
    await sequence(ctx, driver, 'second delete', [
      { file: 'user.created.json', expect: 'applied' },
      { file: 'user.deleted.json', expect: 'applied' },
      { body: later, expect: 'stale' },
    ]);
    eq(await ctx.user(Z), expectedDeleted(created, deletedEv), `second delete [${driver.name}]: deleted_at of the first delete`);
  });

  await test('delete with external_id', async () => {
    const u = expectedUser(dataOf(ctx, 'user.created.username-only.json'));
    await sequence(ctx, driver, 'delete with external_id', [
      { file: 'user.created.username-only.json', expect: 'applied' },
      { file: 'user.deleted.external-id.json', expect: 'applied' },
    ]);
    eq(await ctx.user(U), expectedDeleted(u, eventOf(ctx, 'user.deleted.external-id.json')), `delete with external_id [${driver.name}]: row`);
  });

  await test('delete timestamp in seconds', async () => {
    const secs = withData(ctx.fixture('user.deleted.json'), {}, { timestamp: 1775140200 });
    await sequence(ctx, driver, 'delete timestamp in seconds', [{ body: secs, expect: 'applied' }]);
    const row = await ctx.user(Z);
    eq(row && row.deleted_at, '2026-04-02 14:30:00.000', `delete timestamp in seconds [${driver.name}]: deleted_at`);
  });

  await test('same svix-id three times', async () => {
    const id = newMsgId();
    await sequence(ctx, driver, 'same svix-id three times', [
      { file: 'user.created.json', expect: 'applied', id },
      { file: 'user.created.json', expect: 'duplicate', id },
      { file: 'user.created.json', expect: 'duplicate', id },
    ]);
    eq(await ctx.user(Z), created, `same svix-id three times [${driver.name}]: row`);
  });

  await test('replayed id of an older event after a newer one', async () => {
    const id = newMsgId();
    await sequence(ctx, driver, 'replay after newer', [
      { file: 'user.created.json', expect: 'applied', id },
      { file: 'user.updated.json', expect: 'applied' },
      { file: 'user.created.json', expect: 'duplicate', id },
    ]);
    eq(await ctx.user(Z), updated, `replay after newer [${driver.name}]: row is user.updated.json`);
  });

  await test('app columns survive', async () => {
    await ctx.reset();
    await ctx.deliver(driver, ctx.fixture('user.created.json'));
    await ctx.db.query("UPDATE users SET birthday = '1990-02-03', country = 'SE', bio = 'app-owned ☕' WHERE clerk_id = ?", [Z]);
    const appCols = { birthday: '1990-02-03', country: 'SE', bio: 'app-owned ☕' };
    const res = await ctx.deliver(driver, ctx.fixture('user.updated.json'));
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, `app columns [${driver.name}]: update applied`);
    eq(await ctx.user(Z), updated, `app columns [${driver.name}]: synced columns updated`);
    eq(await ctx.appColumns(Z), appCols, `app columns [${driver.name}]: kept after update`);
    const del = await ctx.deliver(driver, ctx.fixture('user.deleted.json'));
    ctx.expectAnswer(del, { status: 200, body: 'applied' }, `app columns [${driver.name}]: delete applied`);
    eq(await ctx.appColumns(Z), appCols, `app columns [${driver.name}]: kept after delete`);
  });

  await test('extra column added by ALTER TABLE', async () => {
    await ctx.reset();
    await ctx.db.query("ALTER TABLE users ADD COLUMN app_extra VARCHAR(20) NOT NULL DEFAULT 'x'");
    try {
      const res = await ctx.deliver(driver, ctx.fixture('user.created.json'));
      ctx.expectAnswer(res, { status: 200, body: 'applied' }, `extra column [${driver.name}]: applied`);
      eq(await ctx.user(Z), created, `extra column [${driver.name}]: row`);
    } finally {
      await ctx.db.query('ALTER TABLE users DROP COLUMN app_extra');
    }
  });
}

export async function settings(ctx) {
  const created = expectedUser(dataOf(ctx, 'user.created.json'));
  const updatedData = dataOf(ctx, 'user.updated.json');
  const deletedEv = eventOf(ctx, 'user.deleted.json');

  await test('keep_deleted_data = on', async () => {
    const cgi = ctx.cgiDriver({ env: { CLERKSYNC_KEEP_DELETED_DATA: 'on' } });
    await sequence(ctx, cgi, 'keep_deleted_data', [
      { file: 'user.created.json', expect: 'applied' },
      { file: 'user.deleted.json', expect: 'applied' },
    ]);
    eq(await ctx.user(Z), expectedDeleted(created, deletedEv, { keep: true }), 'keep_deleted_data = on: personal columns kept');
  });

  await test('sync_private_metadata = on', async () => {
    const cgi = ctx.cgiDriver({ conf: ctx.config({ sync_private_metadata: 'on' }) });
    await sequence(ctx, cgi, 'sync_private_metadata', [{ file: 'user.updated.json', expect: 'applied' }]);
    const row = await ctx.user(Z);
    eq(row, expectedUser(updatedData, { syncPrivate: true }), 'sync_private_metadata = on: clerk_data keeps private_metadata');
    eq(row && row.clerk_data && row.clerk_data.private_metadata, updatedData.private_metadata, 'sync_private_metadata = on: private_metadata value');
  });
}
