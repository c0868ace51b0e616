// Upkeep of a persistent process: pruning old events rows, a broken
// configuration that heals when fixed, and the config file named by a
// FastCGI request param (Apache SetEnv under mod_fcgid).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { cgiEnv, parseCgiOutput } from '../../lib/http.mjs';
import { need } from '../../lib/procs.mjs';
import { signedHeaders } from '../../lib/sign.mjs';
import { eq, ok, test } from '../../lib/tap.mjs';

const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV';

export async function run(ctx) {
  await test('prune old events rows', async () => {
    await ctx.reset();
    const old = (id, days) =>
      ctx.db.query(
        "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, event_ts, outcome, received_at) " +
          "VALUES (?, 'user.updated', ?, 1, 'applied', UTC_TIMESTAMP(3) - INTERVAL ? DAY)",
        [id, Z, days],
      );
    await old('msg_old_40', 40);
    await old('msg_old_10', 10);
    await old('msg_old_5', 5);
    const d = await ctx.fcgiDriver({ conf: ctx.config({ event_retention_days: '7' }), name: 'fcgi-prune' });
    const res = await ctx.deliver(d, ctx.fixture('user.created.json'), { id: 'msg_prune_new' });
    eq(res.status, 200, 'prune: the delivery is answered 200');
    let rows = [];
    for (let i = 0; i < 40; i++) {
      rows = (await ctx.db.query('SELECT svix_id FROM clerk_webhook_events ORDER BY svix_id')).map((r) => r.svix_id);
      if (!rows.includes('msg_old_10')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    eq(rows, ['msg_old_5', 'msg_prune_new'], 'prune: rows older than event_retention_days (7) are gone, the rest stay');
    await d.close();
  });

  await test('a broken configuration heals without a restart', async () => {
    await ctx.reset();
    const conf = ctx.config({ signing_secret: '' });
    const d = await ctx.fcgiDriver({ conf, name: 'fcgi-heal' });
    const body = ctx.fixture('user.created.json');
    const id = 'msg_heal_1';
    const before = await ctx.deliver(d, body, { id });
    eq([before.status, before.json && before.json.error], [503, 'unavailable'], 'heal: 503 while signing_secret is missing');
    fs.writeFileSync(conf, fs.readFileSync(ctx.conf));
    const after = await ctx.deliver(d, body, { id });
    eq([after.status, after.json && after.json.status], [200, 'applied'], 'heal: the retry applies once the file is fixed');
    ok(d.alive, 'heal: same process');
    await d.close();
  });

  await test('CLERKSYNC_CONFIG as a FastCGI request param', async () => {
    await ctx.reset();
    const d = await ctx.fcgiDriver({ conf: '/nonexistent/clerksync.conf', name: 'fcgi-param' });
    const body = ctx.fixture('user.created.json');
    const send = (id, extra) => {
      const env = { PATH: process.env.PATH, ...cgiEnv({ headers: signedHeaders(ctx.secret, body, { id }), body }), ...extra };
      const r = spawnSync(need('cgi-fcgi'), ['-bind', '-connect', d.socket], { env, input: body });
      return parseCgiOutput(r.stdout);
    };
    eq(send('msg_param_1', {}).status, 503, 'param: without it, the missing file gives 503');
    const res = send('msg_param_2', { CLERKSYNC_CONFIG: ctx.conf });
    eq([res.status, res.json && res.json.status], [200, 'applied'], 'param: the file it names is used');
    eq((await ctx.user(Z)) !== null, true, 'param: the row is written');
    await d.close();
  });
}
