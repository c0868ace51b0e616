import { newMsgId } from '../../lib/sign.mjs';
import { eq, ok, test } from '../../lib/tap.mjs';
import { answer } from '../expect.mjs';
import { withData } from './ordering.mjs';

const LIMIT = 8;

async function pool(items, fn, limit = LIMIT) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        results[i] = { status: 0, error: e.message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

async function burst(ctx, driver, name, bodies, { final, finalDeleted = false }) {
  await ctx.reset();
  const items = shuffle(bodies.map((body) => ({ body, id: newMsgId() })));
  const results = await pool(items, (it) => ctx.deliver(driver, it.body, { id: it.id }));
  const answers = results.map(answer);
  const bad = answers.filter((a) => !a || a.status !== 200 || !['applied', 'stale'].includes(a.body));
  ok(bad.length === 0, `${name}: every answer 200 applied|stale (${bad.length} others: ${JSON.stringify(bad.slice(0, 3))})`);
  ok(answers.some((a) => a && a.body === 'applied'), `${name}: at least one applied`);
  const ev = await ctx.events();
  eq(ev.length, bodies.length, `${name}: one event row per delivery`);
  const applied = results.filter((r) => r && r.json && r.json.status === 'applied').length;
  eq(ev.filter((e) => e.outcome === 'applied').length, applied, `${name}: recorded outcomes match answers`);
  const [{ n }] = await ctx.db.query('SELECT COUNT(*) AS n FROM users');
  eq(Number(n), 1, `${name}: exactly one users row`);
  const row = await ctx.user(final.clerk_id);
  if (finalDeleted) {
    ok(row && row.deleted_at !== null && row.email === null, `${name}: final row deleted`);
  } else {
    eq(row, final, `${name}: final row is the newest state`);
  }
}

export async function run(ctx, driver, expectedUser) {
  const base = ctx.fixture('user.updated.json');
  const upd = JSON.parse(base).data.updated_at;
  const variants = (n, file = 'user.updated.json') =>
    Array.from({ length: n }, (_, i) =>
      withData(ctx.fixture(file), { updated_at: upd + 1000 * (i + 1), first_name: `Zoë ${i + 1}`, last_sign_in_at: upd + i }),
    );

  await test('20 concurrent updates of one user', async () => {
    const bodies = variants(20);
    const last = JSON.parse(bodies[19]).data;
    await burst(ctx, driver, `20 concurrent updates [${driver.name}]`, bodies, { final: expectedUser(last) });
  });

  await test('concurrent first deliveries of a new user', async () => {
    const bodies = variants(12, 'user.created.json');
    const last = JSON.parse(bodies[11]).data;
    await burst(ctx, driver, `12 concurrent creates [${driver.name}]`, bodies, { final: expectedUser(last) });
  });

  await test('concurrent updates and a delete', async () => {
    const bodies = [...variants(10), ctx.fixture('user.deleted.json')];
    await burst(ctx, driver, `10 updates + delete [${driver.name}]`, bodies, {
      final: { clerk_id: JSON.parse(base).data.id },
      finalDeleted: true,
    });
  });

  await test('same svix-id delivered concurrently', async () => {
    await ctx.reset();
    const id = newMsgId();
    const body = ctx.fixture('user.created.json');
    const results = await pool(Array.from({ length: 8 }), () => ctx.deliver(driver, body, { id }));
    const bodiesSeen = results.map((r) => answer(r));
    const applied = bodiesSeen.filter((a) => a && a.status === 200 && a.body === 'applied').length;
    const dup = bodiesSeen.filter((a) => a && a.status === 200 && a.body === 'duplicate').length;
    const retry = bodiesSeen.filter((a) => a && a.status === 503).length;
    ok(applied === 1 && applied + dup + retry === 8, `same svix-id x8 concurrently [${driver.name}]: one applied, rest duplicate (or 503 retry): ${JSON.stringify(bodiesSeen)}`);
    eq((await ctx.events()).length, 1, `same svix-id x8 concurrently [${driver.name}]: one event row`);
  });
}
