import fs from 'node:fs';
import { Context, locate } from './context.mjs';
import { diag, done, ok, test } from '../lib/tap.mjs';
import { which } from '../lib/procs.mjs';
import { expectedUser } from './expect.mjs';
import * as accepted from './cases/accepted.mjs';
import * as concurrency from './cases/concurrency.mjs';
import * as config from './cases/config.mjs';
import * as deploy from './cases/deploy.mjs';
import * as enduser from './cases/enduser.mjs';
import { crashReport } from './cases/config.mjs';
import * as errors from './cases/errors.mjs';
import * as fixtures from './cases/fixtures.mjs';
import * as maintenance from './cases/maintenance.mjs';
import * as ordering from './cases/ordering.mjs';
import * as organizations from './cases/organizations.mjs';
import * as outage from './cases/outage.mjs';
import * as persistent from './cases/persistent.mjs';
import * as quoting from './cases/quoting.mjs';
import * as tls from './cases/tls.mjs';

const started = Date.now();
const loc = locate();
diag(`binary ${loc.bin}`);
diag(`fixtures ${loc.fixtures}`);

const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'lighttpd', 'cgi-fcgi', 'spawn-fcgi'].filter((t) => !which(t));
if (!ok(missing.length === 0, `tools present${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`) ||
    !ok(fs.existsSync(loc.bin), `binary built: ${loc.bin}`) ||
    !ok(fs.existsSync(loc.fixtures), `fixtures present: ${loc.fixtures}`)) {
  process.exit(done() ? 1 : 0);
}

const ctx = new Context(loc);
let fcgi;
let lighttpd;
try {
  await ctx.setup();
  fcgi = await ctx.fcgiDriver();
  lighttpd = await ctx.lighttpdDriver();
  const all = [ctx.cgi, fcgi, lighttpd];

  await fixtures.run(ctx, all);
  await fixtures.spotChecks(ctx);
  await quoting.run(ctx, [ctx.cgi, fcgi]);
  await enduser.run(ctx, [ctx.cgi, fcgi]);
  await enduser.organizations(ctx, [ctx.cgi, fcgi]);
  await errors.run(ctx, all);
  await accepted.run(ctx, all);
  await ordering.run(ctx, ctx.cgi);
  await ordering.run(ctx, fcgi);
  await ordering.settings(ctx);
  await organizations.run(ctx, ctx.cgi);
  await organizations.run(ctx, fcgi);
  await organizations.settings(ctx);
  await concurrency.run(ctx, lighttpd, expectedUser);
  await persistent.connections(ctx, fcgi, lighttpd);
  await persistent.run(ctx, fcgi, lighttpd);
  await outage.run(ctx, ctx.cgi);
  await outage.run(ctx, fcgi);
  await outage.run(ctx, lighttpd, { warm: 4 });
  await maintenance.run(ctx);
  await tls.run(ctx);
  await config.run(ctx);
  await deploy.run(ctx);
  await test('no secrets leak', () => config.noSecretsLeak(ctx));
  await test('process health', () => config.processHealth(ctx));
  ok(fcgi.alive, 'FastCGI process still running after all cases');
  ok(lighttpd.server.alive, 'lighttpd still running after all cases');
} catch (e) {
  ok(false, `harness: ${e.message.split('\n')[0]}`);
  diag(e.stack);
} finally {
  await ctx.teardown();
}
// Processes report leaks (LeakSanitizer) when they exit: look after teardown.
const reports = [];
for (const f of fs.readdirSync(ctx.dir, { recursive: true })) {
  const file = `${ctx.dir}/${f}`;
  if (/\.(stderr|log)$/.test(f) && fs.statSync(file).isFile() && crashReport(fs.readFileSync(file, 'latin1'))) reports.push(f);
}
ok(reports.length === 0, `no sanitizer report in any FastCGI stderr or server log after shutdown${reports.length ? `: ${reports.join(', ')}` : ''}`);
diag(`integration run took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = done() ? 1 : 0;
