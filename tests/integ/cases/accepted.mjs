import { newMsgId, newSecret, nowSeconds, signedHeaders } from '../../lib/sign.mjs';
import { eq, ok, test } from '../../lib/tap.mjs';
import { expectedUser } from '../expect.mjs';

const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV';

export async function run(ctx, drivers) {
  const body = ctx.fixture('user.created.json');
  const want = expectedUser(JSON.parse(body).data);

  const accept = async (tag, driver, req) => {
    await ctx.reset();
    const res = await driver.send(req);
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: applied`);
    eq(await ctx.user(Z), want, `${tag}: users row`);
  };

  // SPEC section 3: the row's own times are UTC, on a server whose own
  // time zone is not (+05:30 here): the session sets its time zone.
  for (const driver of drivers) {
    await test(`row times in UTC [${driver.name}]`, async () => {
      await ctx.reset();
      const res = await driver.send({ headers: signedHeaders(ctx.secret, body), body });
      ctx.expectAnswer(res, { status: 200, body: 'applied' }, `row times in UTC [${driver.name}]: applied`);
      const [r] = await ctx.db.query('SELECT TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP()) AS c, ' +
        'TIMESTAMPDIFF(SECOND, updated_at, UTC_TIMESTAMP()) AS u, ' +
        '(SELECT TIMESTAMPDIFF(SECOND, received_at, UTC_TIMESTAMP()) FROM clerk_webhook_events LIMIT 1) AS e ' +
        'FROM users WHERE clerk_id = ?', [Z]);
      const near = (s) => s !== null && Math.abs(Number(s)) < 120;
      ok(r && near(r.c) && near(r.u) && near(r.e),
        `row times in UTC [${driver.name}]: created_at, updated_at and received_at within 2 minutes of UTC_TIMESTAMP() (${JSON.stringify(r)})`);
    });
  }

  for (const driver of drivers) {
    const n = driver.name;
    await test(`webhook-* headers [${n}]`, () =>
      accept(`webhook-* headers [${n}]`, driver, { headers: signedHeaders(ctx.secret, body, { prefix: 'webhook' }), body }));
    await test(`timestamp 290 s old [${n}]`, () =>
      accept(`timestamp 290 s old [${n}]`, driver, { headers: signedHeaders(ctx.secret, body, { ts: nowSeconds() - 290 }), body }));
    await test(`timestamp 290 s ahead [${n}]`, () =>
      accept(`timestamp 290 s ahead [${n}]`, driver, { headers: signedHeaders(ctx.secret, body, { ts: nowSeconds() + 290 }), body }));
    await test(`two signature entries, second matches [${n}]`, () =>
      accept(`two signature entries, second matches [${n}]`, driver, {
        headers: signedHeaders([newSecret(), ctx.secret], body),
        body,
      }));
    await test(`v2 entry then v1 entry [${n}]`, async () => {
      const h = signedHeaders(ctx.secret, body);
      h['svix-signature'] = `v2,${Buffer.alloc(32).toString('base64')} ${h['svix-signature']}`;
      await accept(`v2 entry then v1 entry [${n}]`, driver, { headers: h, body });
    });
  }

  await test('secret rotation: two secrets configured, either signs', async () => {
    const old = newSecret();
    const cgi = ctx.cgiDriver({ conf: ctx.config({ signing_secret: `${old} ${ctx.secret}` }) });
    await accept('rotation, old secret', cgi, { headers: signedHeaders(old, body), body });
    await accept('rotation, new secret', cgi, { headers: signedHeaders(ctx.secret, body), body });
    const other = newSecret();
    await ctx.reset();
    const res = await cgi.send({ headers: signedHeaders(other, body), body });
    ctx.expectAnswer(res, { status: 401, error: 'invalid_signature' }, 'rotation, third secret rejected');
  });

  await test('secret without whsec_ prefix', async () => {
    const s = newSecret();
    const cgi = ctx.cgiDriver({ conf: ctx.config({ signing_secret: s.slice(6) }) });
    await accept('secret without whsec_ prefix', cgi, { headers: signedHeaders(s, body), body });
  });

  await test('secrets from the environment', async () => {
    const s = newSecret();
    const conf = ctx.config({ signing_secret: null });
    await accept('CLERK_WEBHOOK_SIGNING_SECRET', ctx.cgiDriver({ conf, env: { CLERK_WEBHOOK_SIGNING_SECRET: s } }), {
      headers: signedHeaders(s, body),
      body,
    });
    await accept('CLERKSYNC_SIGNING_SECRET overrides the file', ctx.cgiDriver({ env: { CLERKSYNC_SIGNING_SECRET: s } }), {
      headers: signedHeaders(s, body),
      body,
    });
  });

  await test('database_url and db_host/db_port', async () => {
    const url = `mysql://${ctx.db.user}:${ctx.db.password}@127.0.0.1:${ctx.db.port}/${ctx.db.database}`;
    const conf = ctx.config({ db_socket: null, db_user: null, db_password: null, db_name: null, database_url: url });
    await accept('database_url', ctx.cgiDriver({ conf }), { headers: signedHeaders(ctx.secret, body), body });
    await accept('db_host/db_port', ctx.cgiDriver({ conf: ctx.tcpConf }), { headers: signedHeaders(ctx.secret, body), body });
    await accept('CLERKSYNC_DB_PASSWORD overrides the file', ctx.cgiDriver({
      conf: ctx.config({ db_password: 'wrong-password' }),
      env: { CLERKSYNC_DB_PASSWORD: ctx.db.password },
    }), { headers: signedHeaders(ctx.secret, body), body });
  });

  await test('CGI stdin as a socket pipe', () =>
    accept('CGI stdin as a socket pipe', ctx.cgiDriver({ stdinMode: 'pipe' }), { headers: signedHeaders(ctx.secret, body), body }));

  await test('max_body boundary', async () => {
    const exact = ctx.cgiDriver({ conf: ctx.config({ max_body: body.length }) });
    await accept('body of exactly max_body bytes', exact, { headers: signedHeaders(ctx.secret, body), body });
    const under = ctx.cgiDriver({ conf: ctx.config({ max_body: body.length - 1 }) });
    await ctx.reset();
    const res = await under.send({ headers: signedHeaders(ctx.secret, body), body });
    ctx.expectAnswer(res, { status: 413, error: 'payload_too_large' }, 'body one byte over max_body');
    eq(await ctx.counts(), { users: 0, events: 0 }, 'body one byte over max_body: no database change');
  });

  await test('timestamp_tolerance setting', async () => {
    const cgi = ctx.cgiDriver({ conf: ctx.config({ timestamp_tolerance: 10 }) });
    await ctx.reset();
    const res = await cgi.send({ headers: signedHeaders(ctx.secret, body, { ts: nowSeconds() - 60 }), body });
    ctx.expectAnswer(res, { status: 401, error: 'timestamp_out_of_tolerance' }, 'timestamp_tolerance = 10: 60 s old rejected');
    await accept('timestamp_tolerance = 10: 5 s old accepted', cgi, {
      headers: signedHeaders(ctx.secret, body, { ts: nowSeconds() - 5 }),
      body,
    });
  });

  await test('table_prefix', async () => {
    await ctx.db.query('DROP TABLE IF EXISTS cs_users, cs_clerk_webhook_events');
    await ctx.db.query('CREATE TABLE cs_users LIKE users');
    await ctx.db.query('CREATE TABLE cs_clerk_webhook_events LIKE clerk_webhook_events');
    await ctx.reset();
    const cgi = ctx.cgiDriver({ conf: ctx.config({ table_prefix: 'cs_' }) });
    const id = newMsgId();
    const res = await cgi.send({ headers: signedHeaders(ctx.secret, body, { id }), body });
    ctx.expectAnswer(res, { status: 200, body: 'applied' }, 'table_prefix = cs_: applied');
    eq(await ctx.user(Z, 'cs_users'), want, 'table_prefix = cs_: row in cs_users');
    const ev = await ctx.db.query('SELECT svix_id FROM cs_clerk_webhook_events');
    eq(ev.map((r) => r.svix_id), [id], 'table_prefix = cs_: event in cs_clerk_webhook_events');
    eq(await ctx.counts(), { users: 0, events: 0 }, 'table_prefix = cs_: unprefixed tables untouched');
    await ctx.db.query('DROP TABLE cs_users, cs_clerk_webhook_events');
  });
}
