// Writes the seed corpora for the fuzz targets from tests/fixtures:
// clerk/*.json bodies (fuzz_event, fuzz_json), svix-vectors.json cases
// (fuzz_sig, in its binary layout), and a few config files (fuzz_config).
// usage: node tests/fuzz/seed.mjs OUTDIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '..', 'fixtures');
const out = process.argv[2];
if (!out) {
  console.error('usage: node tests/fuzz/seed.mjs OUTDIR');
  process.exit(2);
}
const dir = (t) => {
  const d = path.join(out, t);
  fs.mkdirSync(d, { recursive: true });
  return d;
};
const put = (t, bytes) => {
  const b = Buffer.from(bytes);
  fs.writeFileSync(path.join(dir(t), crypto.createHash('sha1').update(b).digest('hex')), b);
};

const clerk = path.join(fixtures, 'clerk');
const bodies = fs.readdirSync(clerk).filter((f) => f.endsWith('.json') && !/vectors/.test(f))
  .map((f) => fs.readFileSync(path.join(clerk, f)));
for (const b of bodies) {
  put('fuzz_json', b);
  put('fuzz_event', Buffer.concat([Buffer.from([0]), b]));
  put('fuzz_event', Buffer.concat([Buffer.from([1]), b]));
}
for (const s of ['{}', '[]', '{"a":1,"private_metadata":{"x":[1,2]},"b":"c"}', '"\\u00e9\\ud83d\\ude80"', '-0.5e+10', 'null']) put('fuzz_json', s);

const u16 = (n) => Buffer.from([n & 0xff, (n >> 8) & 0xff]);
const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const vectors = JSON.parse(fs.readFileSync(path.join(fixtures, 'svix-vectors.json'), 'utf8'));
for (const v of vectors) {
  const h = Object.fromEntries(Object.entries(v.headers || {}).map(([k, x]) => [k.toLowerCase(), x]));
  const id = h['svix-id'] ?? h['webhook-id'] ?? '';
  const ts = h['svix-timestamp'] ?? h['webhook-timestamp'] ?? '';
  const sig = h['svix-signature'] ?? h['webhook-signature'] ?? '';
  let key = Buffer.from(String(v.secret).trim().replace(/^whsec_/, ''), 'base64');
  if (key.length < 1) continue;
  key = key.subarray(0, 64);
  const body = v.body_base64 !== undefined ? Buffer.from(v.body_base64, 'base64') : Buffer.from(v.body ?? '', 'utf8');
  const idb = Buffer.from(id);
  const tsb = Buffer.from(String(ts)).subarray(0, 255);
  const sigb = Buffer.from(sig).subarray(0, 65535);
  put('fuzz_sig', Buffer.concat([u64(v.now), Buffer.from([key.length - 1]), key, u16(idb.length), idb,
    Buffer.from([tsb.length]), tsb, u16(sigb.length), sigb, body.subarray(0, 8192)]));
}

const conf = [
  'signing_secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\ndb_user = app\ndb_name = app\ndb_socket = /run/mysqld/mysqld.sock\n',
  '# comment\nsigning_secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2Vjb25kLXNlY3JldC0yNC1ieXRlcyE=\n' +
    'database_url = mysql://user:p%40ss@127.0.0.1:3306/app\ntable_prefix = cs_\ntimestamp_tolerance = 300\n' +
    'max_body = 1048576\nlog_level = debug\nsync_private_metadata = on\nkeep_deleted_data = off\nevent_retention_days = 30\n',
  'signing_secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\ndb_user = app\0CLERKSYNC_DB_NAME=app\nCLERKSYNC_DB_PASSWORD=supersecretpassword\n',
  'db_user = app\ndb_name = app\0CLERK_WEBHOOK_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nCLERKSYNC_MAX_BODY=5\n',
  'signing_secret = not-base64!\ndb_user = app\ndb_name = app\n',
  'database_url = mysql://u:secretpassword123@h:99999/db\nsigning_secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n',
  'unknown_key = 1\n',
];
for (const c of conf) put('fuzz_config', c);
