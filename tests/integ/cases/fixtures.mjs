import fs from 'node:fs';
import { newMsgId } from '../../lib/sign.mjs';
import { eq, ok, test } from '../../lib/tap.mjs';
import { expectedDeleted, expectedMember, expectedOrg, expectedOrgDeleted, expectedUser, HANDLED_TYPES } from '../expect.mjs';

export async function deliverFixture(ctx, driver, file, label) {
  const body = ctx.fixture(file);
  const event = JSON.parse(body.toString('utf8'));
  const id = newMsgId();
  (ctx.sentIds ||= []).push(id);
  await ctx.reset();
  const res = await ctx.deliver(driver, body, { id });
  const tag = `${file} [${label}]`;
  if (!HANDLED_TYPES.has(event.type)) {
    ctx.expectAnswer(res, { status: 200, body: 'ignored' }, `${tag}: ignored`);
    eq({ ...(await ctx.counts()), ...(await ctx.orgCounts()) }, { users: 0, events: 0, organizations: 0, memberships: 0 },
      `${tag}: writes nothing`);
    return;
  }
  ctx.expectAnswer(res, { status: 200, body: 'applied' }, `${tag}: applied`);
  const d = event.data;
  if (event.type.startsWith('user.')) {
    const want = event.type === 'user.deleted' ? expectedDeleted(null, event) : expectedUser(d);
    eq(await ctx.user(d.id), want, `${tag}: users row`);
  } else if (event.type.startsWith('organization.')) {
    const want = event.type === 'organization.deleted' ? expectedOrgDeleted(null, event) : expectedOrg(d);
    eq(await ctx.org(d.id), want, `${tag}: organizations row`);
    eq(await ctx.orgCounts(), { organizations: 1, memberships: 0 }, `${tag}: no membership row`);
  } else {
    const ended = event.type === 'organizationMembership.deleted' ? event.timestamp : null;
    eq(await ctx.member(d.id), expectedMember(d, ended), `${tag}: organization_memberships row`);
    eq(await ctx.org(d.organization.id), expectedOrg(d.organization), `${tag}: organizations row from the snapshot`);
    eq(await ctx.counts(), { users: 0, events: 1 }, `${tag}: no users row`);
  }
  eq(
    await ctx.events(),
    [{ svix_id: id, event_type: event.type, object_id: event.data.id, event_ts: event.timestamp, outcome: 'applied', received_at_utc: 1 }],
    `${tag}: event row`,
  );
}

export async function run(ctx, drivers) {
  for (const driver of drivers) {
    ctx.sentIds = [];
    for (const file of ctx.fixtureFiles()) {
      await test(`${file} [${driver.name}]`, () => deliverFixture(ctx, driver, file, driver.name));
    }
    const log = fs.existsSync(ctx.log) ? fs.readFileSync(ctx.log, 'latin1') : '';
    const missing = ctx.sentIds.filter((id) => !log.includes(id));
    eq(missing.length, 0, `[${driver.name}] every delivered svix-id appears intact in log_file (${missing.length} of ${ctx.sentIds.length} missing)`);
  }
}

export async function spotChecks(ctx) {
  const d = ctx.cgi;
  const Z = 'user_3AvkQLHKqqQkhK2Mc4lY8rs6ToV';
  const rowAfter = async (file) => {
    await ctx.reset();
    await ctx.deliver(d, ctx.fixture(file));
    return ctx.user(JSON.parse(ctx.fixture(file)).data.id);
  };

  await test('spot checks', async () => {
    const created = await rowAfter('user.created.json');
    eq(
      [created && created.email, created && created.email_verified, created && created.last_name],
      ['zoe.angstrom@example.org', 1, 'Ångström 🚀'],
      'user.created.json: email, verified, emoji last name',
    );
    eq(await rowAfter('user.created.escaped.json'), created, 'user.created.escaped.json: same row as user.created.json');
    eq(await rowAfter('user.created.compact.json'), created, 'user.created.compact.json: same row as user.created.json');

    const updated = await rowAfter('user.updated.json');
    eq(updated && updated.email, 'z.angstrom@example.net', 'user.updated.json: primary email is the second entry');
    ok(updated && updated.clerk_data && !('private_metadata' in updated.clerk_data), 'user.updated.json: private_metadata not stored');
    eq(
      updated && updated.public_metadata && updated.public_metadata.plan,
      { features: { beta: ['charts', 'api'], export: true }, seats: 5, tier: 'pro' },
      'user.updated.json: nested public_metadata',
    );

    await rowAfter('user.updated.long-unsafe-metadata.json');
    const [r] = await ctx.db.query(
      "SELECT CAST(JSON_EXTRACT(clerk_data, '$.unsafe_metadata.stats.big') AS CHAR) AS big, " +
        "HEX(JSON_UNQUOTE(JSON_EXTRACT(clerk_data, '$.unsafe_metadata.nul_test'))) AS nul, " +
        "CAST(JSON_EXTRACT(clerk_data, '$.unsafe_metadata.stats.exp') AS DOUBLE) AS exp, " +
        "JSON_UNQUOTE(JSON_EXTRACT(clerk_data, '$.unsafe_metadata.bio')) AS bio, " +
        'LOCATE(?, CAST(clerk_data AS CHAR)) > 0 AS raw_big FROM users WHERE clerk_id = ?',
      ['9007199254740993', Z],
    );
    const src = JSON.parse(ctx.fixture('user.updated.long-unsafe-metadata.json')).data.unsafe_metadata;
    eq(r && r.big, '9007199254740993', 'long-unsafe-metadata: 2^53+1 kept exact (JSON_EXTRACT)');
    eq(r && Number(r.raw_big), 1, 'long-unsafe-metadata: 2^53+1 present in stored clerk_data text');
    eq(r && r.nul, Buffer.from('before\u0000after').toString('hex').toUpperCase(), 'long-unsafe-metadata: \\u0000 kept');
    eq(r && r.exp, 1.5e-7, 'long-unsafe-metadata: 1.5e-07 kept');
    eq(r && r.bio, src.bio, 'long-unsafe-metadata: bio (control chars, RTL, U+2028) exact');

    const phone = await rowAfter('user.created.phone-only.json');
    eq(
      phone && [phone.phone, phone.email, phone.email_verified, phone.first_name, phone.last_name],
      ['+447700900123', null, null, null, null],
      'phone-only: phone set, email/verified/names NULL',
    );
    const uname = await rowAfter('user.created.username-only.json');
    eq(
      uname && [uname.username, uname.external_id, uname.email, uname.phone],
      ['j_kowalski', 'legacy-004217', null, null],
      'username-only: username and external_id',
    );
    const img = await rowAfter('user.updated.image-query.json');
    ok(
      img && typeof img.image_url === 'string' && img.image_url.endsWith('?width=256&height=256&quality=80&fit=crop&bg=%23FFFFFF'),
      'image-query: image_url query string kept',
    );
    const g = await rowAfter('user.created.oauth-google.json');
    eq(g && g.email_verified, 1, 'oauth-google: from_oauth_google counts as verified');
  });
}
