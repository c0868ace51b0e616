import { alive, sleep, waitPidGone } from '../../lib/procs.mjs';
import { newMsgId } from '../../lib/sign.mjs';
import { diag, eq, ok, test } from '../../lib/tap.mjs';
import { answer } from '../expect.mjs';

const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV';

async function holdRowLock(ctx, clerkId) {
  const c = await ctx.db.rootConnection(ctx.db.database);
  await c.query('START TRANSACTION');
  await c.query('SELECT id FROM users WHERE clerk_id = ? FOR UPDATE', [clerkId]);
  return {
    release: async () => {
      await c.query('COMMIT');
      await c.end();
    },
  };
}

export async function connections(ctx, fcgi, lighttpd) {
  await test('persistent processes keep one connection each', async () => {
    eq((await ctx.connections('localhost')).length, 1, 'fcgi: one database connection (socket) for one process');
    eq((await ctx.connections('127.0.0.1')).length, 2, 'lighttpd max-procs 2: two database connections (TCP), one per backend');
  });
}

export async function run(ctx, fcgi, lighttpd) {
  await test('connection killed by the server', async () => {
    await ctx.reset();
    for (const c of [...(await ctx.connections('localhost')), ...(await ctx.connections('127.0.0.1'))]) {
      await ctx.db.query(`KILL CONNECTION ${Number(c.id)}`);
    }
    const res = await ctx.deliver(fcgi, ctx.fixture('user.created.json'));
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'killed connection [fcgi]: next delivery reconnects and applies');
    const results = [];
    for (const f of ['user.created.phone-only.json', 'user.created.username-only.json', 'user.created.oauth-google.json']) {
      results.push(answer(await ctx.deliver(lighttpd, ctx.fixture(f))));
    }
    eq(results, results.map(() => ({ status: 200, body: 'applied' })), 'killed connections [lighttpd]: deliveries reconnect and apply');
  });

  await test('connection idle past wait_timeout', async () => {
    await ctx.db.query('SET GLOBAL wait_timeout = 2');
    let d;
    try {
      d = await ctx.fcgiDriver({ name: 'fcgi-idle' });
      await ctx.reset();
      const first = await ctx.deliver(d, ctx.fixture('user.created.json'));
      ctx.expectAnswer(first, { status: 200, body: 'applied' }, 'wait_timeout = 2: first delivery applied');
      await sleep(3500);
      const second = await ctx.deliver(d, ctx.fixture('user.updated.json'));
      ctx.expectAnswer(second, { status: 200, body: 'applied' }, 'wait_timeout = 2: delivery after 3.5 s idle applied');
    } finally {
      await ctx.db.query('SET GLOBAL wait_timeout = 28800');
      if (d) await d.close();
    }
  });

  await test('row lock held by the app', async () => {
    await ctx.reset();
    await ctx.deliver(fcgi, ctx.fixture('user.created.json'));
    const lock = await holdRowLock(ctx, Z);
    const id = newMsgId();
    const t0 = Date.now();
    let res;
    try {
      res = await ctx.deliver(fcgi, ctx.fixture('user.updated.json'), { id });
    } finally {
      await lock.release();
    }
    const secs = (Date.now() - t0) / 1000;
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `row locked [fcgi]: 503 unavailable (after ${secs.toFixed(1)} s)`);
    ok(secs < 14, `row locked [fcgi]: answered well inside Svix's 15 s (${secs.toFixed(1)} s)`);
    eq((await ctx.db.query('SELECT svix_id FROM clerk_webhook_events WHERE svix_id = ?', [id])).length, 0, 'row locked [fcgi]: no event row');
    const retry = await ctx.deliver(fcgi, ctx.fixture('user.updated.json'), { id });
    ctx.expectAnswer(retry, { status: 200, body: 'applied' }, 'row locked [fcgi]: retry after the lock is gone applied');
  });

  await test('SIGTERM during a request', async () => {
    const d = await ctx.fcgiDriver({ name: 'fcgi-term' });
    await ctx.reset();
    await ctx.deliver(d, ctx.fixture('user.created.json'));
    const lock = await holdRowLock(ctx, Z);
    const pending = ctx.deliver(d, ctx.fixture('user.updated.json'));
    try {
      await sleep(400);
      ok(alive(d.pid), 'SIGTERM [fcgi]: process busy with the request');
      process.kill(d.pid, 'SIGTERM');
      await sleep(400);
    } finally {
      await lock.release();
    }
    const res = await pending;
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'SIGTERM [fcgi]: the request in hand is finished');
    ok(await waitPidGone(d.pid, 5000), 'SIGTERM [fcgi]: process exits afterwards');
    if (alive(d.pid)) diag('process still alive 5 s after SIGTERM');
    await d.close();
  });
}
