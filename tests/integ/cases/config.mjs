import fs from 'node:fs';
import path from 'node:path';
import { signedHeaders } from '../../lib/sign.mjs';
import { diag, eq, ok, test } from '../../lib/tap.mjs';

function linesNaming(file, key) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(key));
}

export async function run(ctx) {
  const body = ctx.fixture('user.created.json');
  const bad = [
    { name: 'missing signing_secret', key: 'signing_secret', conf: { signing_secret: null } },
    { name: 'unknown key', key: 'frobnicate', conf: { frobnicate: 'yes' } },
    { name: 'max_body not a number', key: 'max_body', conf: { max_body: 'lots' } },
    { name: 'timestamp_tolerance not a number', key: 'timestamp_tolerance', conf: { timestamp_tolerance: 'soon' } },
    { name: 'keep_deleted_data not on/off', key: 'keep_deleted_data', conf: { keep_deleted_data: 'perhaps' } },
  ];
  for (const c of bad) {
    await test(`config: ${c.name} [cgi]`, async () => {
      const log = ctx.logPath(`config-${c.key}`);
      const cgi = ctx.cgiDriver({ conf: ctx.config({ ...c.conf, log_file: log }) });
      await ctx.reset();
      const res = await ctx.deliver(cgi, body);
      ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `config ${c.name} [cgi]: 503 unavailable`);
      eq(await ctx.counts(), { users: 0, events: 0 }, `config ${c.name} [cgi]: no database change`);
      const lines = linesNaming(log, c.key);
      ok(lines.length === 1, `config ${c.name} [cgi]: one log line naming ${c.key} (got ${lines.length})`);
      if (lines.length !== 1 && fs.existsSync(log)) diag(fs.readFileSync(log, 'utf8'));
    });
  }

  await test('config: missing signing_secret [fcgi]', async () => {
    const log = ctx.logPath('config-fcgi');
    const d = await ctx.fcgiDriver({ conf: ctx.config({ signing_secret: null, log_file: log }), name: 'fcgi-badconf' });
    try {
      await ctx.reset();
      for (let i = 1; i <= 3; i++) {
        const res = await ctx.deliver(d, body);
        ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, `config missing signing_secret [fcgi]: request ${i} 503 unavailable`);
      }
      ok(d.alive, 'config missing signing_secret [fcgi]: process keeps running');
      ok(linesNaming(log, 'signing_secret').length >= 1, 'config missing signing_secret [fcgi]: log names signing_secret');
      eq(await ctx.counts(), { users: 0, events: 0 }, 'config missing signing_secret [fcgi]: no database change');
    } finally {
      await d.close();
    }
  });

  await test('config: wrong db_password', async () => {
    const log = ctx.logPath('config-dbpass');
    const wrong = 'Wr0ngPassw0rd-' + Date.now();
    ctx.extraSecrets = [...(ctx.extraSecrets || []), wrong];
    const cgi = ctx.cgiDriver({ conf: ctx.config({ db_password: wrong, log_file: log }) });
    const res = await ctx.deliver(cgi, body);
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, 'wrong db_password: 503 unavailable');
    ok(fs.existsSync(log) && fs.readFileSync(log, 'utf8').length > 0, 'wrong db_password: logged');
  });

  await test('config: CLERKSYNC_CONFIG points to a missing file', async () => {
    const cgi = ctx.cgiDriver({ conf: path.join(ctx.dir, 'does-not-exist.conf') });
    const res = await cgi.send({ headers: signedHeaders(ctx.secret, body), body });
    ctx.expectAnswer(res, { status: 503, error: 'unavailable' }, 'missing config file: 503 unavailable');
  });
}

export function noSecretsLeak(ctx) {
  const secrets = [ctx.secret, ctx.secret.slice(6), ctx.db.password, ...(ctx.extraSecrets || [])];
  const leaks = [];
  ctx.responses.forEach((r, i) => {
    for (const s of secrets) if (r && r.raw && r.raw.includes(s)) leaks.push(`response ${i}`);
    const sigs = (r && r.sentSignature ? r.sentSignature.split(' ') : []).map((e) => e.slice(3)).filter((e) => e.length > 20);
    for (const s of sigs) if (r.raw && r.raw.includes(s)) leaks.push(`response ${i} echoes the signature`);
  });
  for (const f of new Set(ctx.logFiles)) {
    if (!f || !fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, 'utf8');
    for (const s of secrets) if (text.includes(s)) leaks.push(path.basename(f));
  }
  ok(ctx.responses.length > 0, `collected ${ctx.responses.length} responses to scan`);
  eq(leaks, [], 'no secret, database password or signature in any answer or log');
  const logged = [...new Set(ctx.logFiles)].filter((f) => f && fs.existsSync(f) && fs.statSync(f).size > 0);
  ok(logged.length > 0, `log files written (${logged.map((f) => path.basename(f)).join(', ')})`);
}

export const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|double free|stack smashing|Segmentation fault/;

// Apache's own workers may die at its shutdown ("AH00052: child pid N exit
// signal ..."): that is not clerksync, which mod_fcgid and mod_cgi report
// in other words. Such lines are left out before looking for a report.
export function crashReport(text) {
  const m = text.replace(/^.*AH00052: child pid \d+ exit signal.*$/gm, '').match(SANITIZER);
  return m ? m[0] : null;
}

export function processHealth(ctx) {
  const cgi = ctx.responses.filter((r) => r && r.exitCode !== undefined && r.driver === 'cgi');
  const badExit = cgi.filter((r) => r.exitCode !== 0 || r.signal);
  ok(badExit.length === 0, `every CGI process exited 0 (${badExit.length} of ${cgi.length} did not)`);
  for (const r of badExit.slice(0, 3)) diag(`exit ${r.exitCode} signal ${r.signal}: ${r.stderr.slice(0, 300)}`);
  const noisy = ctx.responses.filter((r) => r && r.stderr && crashReport(r.stderr));
  for (const f of new Set(ctx.logFiles)) {
    const report = f && fs.existsSync(f) ? crashReport(fs.readFileSync(f, 'latin1')) : null;
    if (report) noisy.push({ stderr: `${path.basename(f)}: ${report}` });
  }
  ok(noisy.length === 0, `no sanitizer or crash report in any stderr or log (${noisy.length})`);
  for (const r of noisy.slice(0, 3)) diag(r.stderr.slice(0, 1000));
}
