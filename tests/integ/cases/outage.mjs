import { newMsgId, newSecret, signedHeaders } from '../../lib/sign.mjs';
import { eq, test } from '../../lib/tap.mjs';
import { withData } from './ordering.mjs';

export async function run(ctx, driver, { warm = 1 } = {}) {
  const name = `database stopped [${driver.name}]`;
  await test(name, async () => {
    await ctx.reset();
    const created = ctx.fixture('user.created.json');
    for (let i = 0; i < warm; i++) {
      const res = await ctx.deliver(driver, withData(created, { id: `user_warm${i}` }));
      ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${name}: warm-up ${i + 1} applied`);
    }
    const before = await ctx.counts();
    await ctx.db.stop();
    const id = newMsgId();
    const body = ctx.fixture('user.updated.json');
    let restarted = false;
    try {
      for (let i = 0; i < warm; i++) {
        const res = await ctx.deliver(driver, body, { id });
        ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `${name}: delivery ${i + 1} while down -> 503 unavailable`);
      }
      const bad = await driver.send({ headers: signedHeaders(newSecret(), body), body });
      ctx.expectAnswer(bad, { status: 401, error: 'invalid_signature' }, `${name}: bad signature while down -> 401 (no DB work before verification)`);
      await ctx.db.start();
      restarted = true;
      for (let i = 0; i < warm; i++) {
        const res = await ctx.deliver(driver, body, { id });
        const want = i === 0 ? 'applied' : 'duplicate';
        ctx.expectAnswer(res, { status: 200, body: want }, `${name}: retry ${i + 1} after restart (same svix-id) -> ${want}`);
      }
    } finally {
      if (!restarted) await ctx.db.start();
    }
    const ev = await ctx.db.query('SELECT outcome FROM clerk_webhook_events WHERE svix_id = ?', [id]);
    eq(ev.map((r) => r.outcome), ['applied'], `${name}: exactly one event row for the retried id`);
    eq(await ctx.counts(), { users: before.users + 1, events: before.events + 1 }, `${name}: nothing else written`);
  });
}
