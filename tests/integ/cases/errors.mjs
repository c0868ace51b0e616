import crypto from 'node:crypto';
import { newMsgId, newSecret, nowSeconds, signature, signedHeaders } from '../../lib/sign.mjs';
import { eq, test } from '../../lib/tap.mjs';

const NOT_OVER_HTTP = new Set(['no-length', 'bad-length', 'negative-length', 'huge-length-no-body']);

function cases(ctx) {
  const valid = ctx.fixture('user.created.json');
  const signed = (body, opts) => ({ headers: signedHeaders(ctx.secret, body, opts), body });
  const without = (name) => {
    const r = signed(valid);
    delete r.headers[name];
    return r;
  };
  const emptied = (name) => {
    const r = signed(valid);
    r.headers[name] = '';
    return r;
  };
  const big = Buffer.alloc(1048577, 'a');
  const list = [
    { name: 'GET', build: () => ({ method: 'GET', headers: {}, contentLength: null }), status: 405, error: 'method_not_allowed', allow: true },
    { name: 'PUT signed', build: () => ({ ...signed(valid), method: 'PUT' }), status: 405, error: 'method_not_allowed', allow: true },
    { name: 'no-length', build: () => ({ ...signed(valid), contentLength: null }), status: 411, error: 'length_required' },
    { name: 'bad-length', build: () => ({ ...signed(valid), contentLength: 'abc' }), status: 400, error: 'bad_request' },
    { name: 'negative-length', build: () => ({ ...signed(valid), contentLength: '-1' }), status: 400, error: 'bad_request' },
    { name: 'body over max_body', build: () => signed(big), status: 413, error: 'payload_too_large' },
    { name: 'huge-length-no-body', build: () => ({ ...signed(valid), contentLength: 50 * 1048576 }), status: 413, error: 'payload_too_large' },
  ];
  for (const h of ['svix-id', 'svix-timestamp', 'svix-signature']) {
    list.push({ name: `missing ${h}`, build: () => without(h), status: 400, error: 'missing_headers' });
    list.push({ name: `empty ${h}`, build: () => emptied(h), status: 400, error: 'missing_headers' });
  }
  const tsCase = (name, offset) => ({
    name,
    build: () => signed(valid, { ts: nowSeconds() + offset }),
    status: 401,
    error: 'timestamp_out_of_tolerance',
  });
  const edit = (fn) => () => {
    const r = signed(valid);
    fn(r);
    return r;
  };
  list.push(
    tsCase('timestamp 301 s old', -301),
    tsCase('timestamp 301 s ahead', 301),
    tsCase('timestamp 1 day old', -86400),
    { name: 'timestamp not a number', build: edit((r) => (r.headers['svix-timestamp'] = 'abc')), status: 401, error: 'timestamp_out_of_tolerance' },
    { name: 'timestamp in milliseconds', build: () => signed(valid, { ts: nowSeconds() * 1000 }), status: 401, error: 'timestamp_out_of_tolerance' },
    { name: 'wrong secret', build: () => ({ headers: signedHeaders(newSecret(), valid), body: valid }), status: 401, error: 'invalid_signature' },
    {
      name: 'only a v2 signature entry',
      build: edit((r) => (r.headers['svix-signature'] = r.headers['svix-signature'].replace(/^v1,/, 'v2,'))),
      status: 401,
      error: 'invalid_signature',
    },
    {
      name: 'signature over other bytes of the same JSON',
      build: edit((r) => {
        r.headers['svix-signature'] = signature(ctx.secret, r.headers['svix-id'], r.headers['svix-timestamp'], ctx.fixture('user.created.compact.json'));
      }),
      status: 401,
      error: 'invalid_signature',
    },
    {
      name: 'body changed after signing',
      build: edit((r) => {
        r.body = Buffer.from(valid);
        r.body[r.body.indexOf('Zo')] = 'X'.charCodeAt(0);
      }),
      status: 401,
      error: 'invalid_signature',
    },
    { name: 'svix-id changed after signing', build: edit((r) => (r.headers['svix-id'] = newMsgId())), status: 401, error: 'invalid_signature' },
    {
      name: 'random signature',
      build: edit((r) => (r.headers['svix-signature'] = 'v1,' + crypto.randomBytes(32).toString('base64'))),
      status: 401,
      error: 'invalid_signature',
    },
  );

  const payloads = {
    'not JSON': 'this is not json',
    'JSON array': '[{"type":"user.created","data":{}}]',
    'JSON string': '"user.created"',
    'missing type': '{"data":{"id":"user_x"},"object":"event","timestamp":1773480413644}',
    'missing data': '{"type":"user.created","object":"event","timestamp":1773480413644}',
    'truncated JSON': valid.subarray(0, 200),
    'empty body': '',
    'invalid UTF-8': Buffer.concat([Buffer.from('{"type":"user.created","data":{"id":"user_x","first_name":"Zo'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]),
    'overlong UTF-8': Buffer.concat([Buffer.from('{"type":"user.created","data":{"id":"user_x","first_name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]),
  };
  for (const [name, body] of Object.entries(payloads)) {
    list.push({ name: `payload ${name}`, build: () => signed(Buffer.from(body)), status: 400, error: 'invalid_payload' });
  }
  list.push({
    name: 'unknown event type',
    build: () => signed(Buffer.from('{"type":"user.teleported","data":{"id":"user_x"},"object":"event","timestamp":1773480413644}')),
    status: 200,
    body: 'ignored',
  });
  return list;
}

export async function run(ctx, drivers) {
  for (const driver of drivers) {
    for (const c of cases(ctx)) {
      if (driver.name === 'lighttpd' && NOT_OVER_HTTP.has(c.name)) continue;
      await test(`${c.name} [${driver.name}]`, async () => {
        await ctx.reset();
        const res = await driver.send(c.build());
        const tag = `${c.name} [${driver.name}]`;
        ctx.expectAnswer(res, c, `${tag}: ${c.status} ${c.error || c.body}`);
        if (c.allow) eq(res.headers.allow, 'POST', `${tag}: Allow: POST`);
        eq(await ctx.counts(), { users: 0, events: 0 }, `${tag}: no database change`);
      });
    }
  }
}
