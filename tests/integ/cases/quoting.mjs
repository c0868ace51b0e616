// The characters that end or bend an SQL string literal arrive as sent:
// in the owned columns, byte for byte in the JSON columns, and with
// nothing else written. (Values travel as prepared-statement parameters;
// this holds whatever way they travel.)
import { eq, ok, test } from '../../lib/tap.mjs';
import { expectedUser } from '../expect.mjs';

// Quote, backslash, both together, an injection attempt, line breaks, tab,
// ^Z, a lone backslash at the end, and text beyond ASCII.
const NASTY = [
  "O'Brien", 'back\\slash', "\\'", "'\\", "x'); DROP TABLE users; --", '"double"',
  'line\nbreak\r\n', 'tab\there', 'ctrl\u001aZ', '\\0 is not NUL', 'ends with \\',
  'Zoë Ångström 🚀', "''''", '\\\\\\',
];

export async function run(ctx, drivers) {
  const base = JSON.parse(ctx.fixture('user.created.json'));

  for (const driver of drivers) {
    await test(`quoting: nasty values arrive as sent [${driver.name}]`, async () => {
      for (const [i, s] of NASTY.entries()) {
        await ctx.reset();
        const ev = structuredClone(base);
        ev.data.first_name = s;
        ev.data.last_name = `${s}${s}`;
        ev.data.username = s.slice(0, 255);
        ev.data.public_metadata = { [s]: s, list: [s, { nested: s }] };
        ev.data.unsafe_metadata = { note: s };
        delete ev.data.private_metadata; // so that clerk_data is all of data
        const body = JSON.stringify(ev);
        const tag = `quoting ${JSON.stringify(s)} [${driver.name}]`;
        ctx.expectAnswer(await ctx.deliver(driver, body), { status: 200, body: 'applied' }, `${tag}: applied`);
        eq(await ctx.user(ev.data.id), expectedUser(ev.data), `${tag}: users row`);
        // The JSON columns hold exactly the bytes of the body.
        const [raw] = await ctx.db.query(
          'SELECT CAST(public_metadata AS BINARY) AS pm, CAST(clerk_data AS BINARY) AS cd FROM users WHERE clerk_id = ?',
          [ev.data.id],
        );
        const sent = (v) => Buffer.from(JSON.stringify(v));
        ok(raw && Buffer.compare(raw.pm, sent(ev.data.public_metadata)) === 0, `${tag}: public_metadata byte for byte`);
        ok(raw && Buffer.compare(raw.cd, sent(ev.data)) === 0, `${tag}: clerk_data byte for byte`);
        eq(await ctx.counts(), { users: 1, events: 1 }, `${tag}: one users row, one events row`);
      }
    });
  }
}
