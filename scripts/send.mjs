import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { postHttp } from '../tests/lib/http.mjs';
import { newMsgId, nowSeconds, signedHeaders } from '../tests/lib/sign.mjs';
import { readConfig } from '../tests/lib/conf.mjs';

const usage = 'usage: node scripts/send.mjs URL FILE [--secret whsec_...] [--id msg_...] [--timestamp SECONDS] [--webhook-headers]';

function parseArgs(argv) {
  const opts = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--secret') opts.secret = argv[++i];
    else if (a === '--id') opts.id = argv[++i];
    else if (a === '--timestamp') opts.ts = Number(argv[++i]);
    else if (a === '--webhook-headers') opts.prefix = 'webhook';
    else if (a === '-h' || a === '--help') opts.help = true;
    else opts.positional.push(a);
  }
  return opts;
}

function findSecret() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  for (const f of [path.join(process.cwd(), '.run', 'clerksync.conf'), path.join(root, '.run', 'clerksync.conf')]) {
    const s = readConfig(f).signing_secret;
    if (s) return s.split(/\s+/)[0];
  }
  return process.env.CLERK_WEBHOOK_SIGNING_SECRET || null;
}

const opts = parseArgs(process.argv.slice(2));
const [url, file] = opts.positional;
if (opts.help || !url || !file) {
  console.error(usage);
  process.exit(opts.help ? 0 : 2);
}
const secret = opts.secret || findSecret();
if (!secret) {
  console.error('send: no secret: pass --secret or start the dev server (make run) to create .run/clerksync.conf');
  process.exit(2);
}
const body = fs.readFileSync(file);
const headers = signedHeaders(secret, body, { id: opts.id || newMsgId(), ts: opts.ts || nowSeconds(), prefix: opts.prefix });
try {
  const res = await postHttp(url, { headers, body });
  console.log(`${res.status} ${res.raw}`);
  process.exitCode = res.status >= 200 && res.status < 300 ? 0 : 1;
} catch (e) {
  console.error(`send: ${e.message}`);
  process.exitCode = 1;
}
