// db_tls = off | on | verify, against a second private MariaDB that
// accepts TLS with a throwaway CA and a server certificate for 127.0.0.1
// and localhost (made here with the openssl CLI). A database user that
// REQUIRES SSL proves what the webhook path itself does: `off` is refused
// by the server, `on` and `verify` get through. `check` reports the
// cipher and what was verified, or why the connection failed.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { makeTlsFiles, startTempMariaDB } from '../../lib/mariadb.mjs';
import { diag, eq, ok, test } from '../../lib/tap.mjs';

function runCmd(cmd, args, { env, timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

export async function run(ctx) {
  let tdb;
  let files;
  await test('tls: a MariaDB with TLS', async () => {
    files = makeTlsFiles(path.join(ctx.dir, 'tls'));
    tdb = await startTempMariaDB({ tls: { ca: files.ca, cert: files.cert, key: files.key } });
    await tdb.createDatabase({ schemaDir: ctx.schema });
    const [v] = await tdb.query("SHOW GLOBAL VARIABLES LIKE 'have_ssl'");
    eq(v && v.Value, 'YES', 'tls: the server has TLS');
  });
  if (!tdb) return;
  try {
    await cases(ctx, tdb, files);
  } finally {
    await tdb.stop();
  }
}

async function cases(ctx, tdb, files) {

  // The application user may connect only with TLS.
  const q = mysql.escape;
  const pw = tdb.password;
  ctx.extraSecrets = [...(ctx.extraSecrets || []), pw];
  tdb.sql(`ALTER USER ${q(tdb.user)}@'127.0.0.1' REQUIRE SSL;`);
  const conf = (tls, extra = {}) => ctx.config({
    db_socket: null, db_host: '127.0.0.1', db_port: tdb.port, db_user: tdb.user, db_password: pw, db_name: tdb.database, ...tls, ...extra,
  });
  const check = (c) => runCmd(ctx.bin, ['check'], { env: { PATH: process.env.PATH, CLERKSYNC_CONFIG: c } });
  const said = (r) => `${r.stdout}${r.stderr}`;
  const rows = async () => Number((await tdb.query('SELECT COUNT(*) AS n FROM users'))[0].n);
  const fixture = ctx.fixture('user.created.json');
  const deliverNew = (d) => {
    const ev = JSON.parse(fixture);
    ev.data.id = `user_tls${Math.random().toString(36).slice(2, 12)}`;
    return ctx.deliver(d, Buffer.from(JSON.stringify(ev)));
  };

  const off = conf({});
  const on = conf({ db_tls: 'on' });
  const verify = conf({ db_tls: 'verify', db_tls_ca: files.ca });
  const otherCa = conf({ db_tls: 'verify', db_tls_ca: files.otherCa });
  const systemCas = conf({ db_tls: 'verify' });

  await test('tls: verify with the right CA', async () => {
    const before = await rows();
    const cgi = ctx.cgiDriver({ conf: verify });
    ctx.expectAnswer(await deliverNew(cgi), { status: 200, body: 'applied' }, 'tls verify [cgi]: an event applies over TLS');
    const fcgi = await ctx.fcgiDriver({ conf: verify, name: 'fcgi-tls' });
    ctx.expectAnswer(await deliverNew(fcgi), { status: 200, body: 'applied' }, 'tls verify [fcgi]: an event applies over TLS');
    ctx.expectAnswer(await deliverNew(fcgi), { status: 200, body: 'applied' }, 'tls verify [fcgi]: and the next on the same connection');
    eq(await rows(), before + 3, 'tls verify: three rows written');
    const r = await check(verify);
    eq(r.code, 0, 'tls verify: check exits 0');
    ok(/^tls: encrypted \(\S+\), certificate and host name verified$/m.test(r.stdout), `tls verify: check names the cipher and what was verified (${r.stdout.split('\n').find((l) => l.startsWith('tls:'))})`);
    if (r.code !== 0) diag(said(r));
  });

  await test('tls: on encrypts without verifying', async () => {
    const before = await rows();
    ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: on })), { status: 200, body: 'applied' }, 'tls on [cgi]: an event applies (the user requires SSL)');
    eq(await rows(), before + 1, 'tls on: one row written');
    const r = await check(on);
    eq(r.code, 0, 'tls on: check exits 0');
    ok(/^tls: encrypted \(\S+\), the certificate is not verified \(db_tls = on\)$/m.test(r.stdout), 'tls on: check says encrypted, not verified');
  });

  await test('tls: off is plain, as today', async () => {
    const before = await rows();
    ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: off })), { status: 503, error: 'unavailable' }, 'tls off [cgi]: a user that requires SSL is refused: 503');
    eq(await rows(), before, 'tls off: nothing written');
    tdb.sql(`ALTER USER ${q(tdb.user)}@'127.0.0.1' REQUIRE NONE;`);
    try {
      ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: off })), { status: 200, body: 'applied' }, 'tls off [cgi]: applies when the user may connect in clear');
      const r = await check(off);
      ok(r.code === 0 && /^tls: off, not encrypted$/m.test(r.stdout), `tls off: check says not encrypted (exit ${r.code})`);
      const remote = await check(conf({}, { db_host: `127.0.0.1 db.elsewhere.invalid` }));
      ok(/^tls: off, not encrypted: a remote database in clear; set db_tls = verify$/m.test(remote.stdout), 'tls off: check warns when a configured host is remote');
    } finally {
      tdb.sql(`ALTER USER ${q(tdb.user)}@'127.0.0.1' REQUIRE SSL;`);
    }
  });

  await test('tls: verify with another CA', async () => {
    const before = await rows();
    ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: otherCa })), { status: 503, error: 'unavailable' }, 'tls other CA [cgi]: 503');
    ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: systemCas })), { status: 503, error: 'unavailable' }, 'tls system CAs [cgi]: the throwaway CA is not among them: 503');
    eq(await rows(), before, 'tls other CA: nothing written');
    const r = await check(otherCa);
    ok(r.code === 1 && /^database: connect \(TLS failed: check db_tls, db_tls_ca and the server's certificate\): 2026 .*(certificate|verify)/m.test(r.stdout),
      `tls other CA: check exits 1 and names the reason (${r.stdout.trim().split('\n').pop()})`);
  });

  await test('tls: verify checks the host name', async () => {
    // The server now shows a certificate of the right CA for another name.
    fs.copyFileSync(files.cert, `${files.cert}.keep`);
    fs.copyFileSync(files.key, `${files.key}.keep`);
    fs.copyFileSync(files.wrongNameCert, files.cert);
    fs.copyFileSync(files.wrongNameKey, files.key);
    tdb.sql('FLUSH SSL;');
    try {
      const before = await rows();
      ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: verify })), { status: 503, error: 'unavailable' }, 'tls wrong name [cgi]: verify refuses it: 503');
      eq(await rows(), before, 'tls wrong name: nothing written');
      const r = await check(verify);
      ok(r.code === 1 && /^database: connect \(TLS failed: [^\n]*\): 2026 /m.test(r.stdout),
        `tls wrong name: check exits 1 and names TLS (${r.stdout.trim().split('\n').pop()})`);
      ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: on })), { status: 200, body: 'applied' }, 'tls wrong name [cgi]: on does not look at it');
    } finally {
      fs.copyFileSync(`${files.cert}.keep`, files.cert);
      fs.copyFileSync(`${files.key}.keep`, files.key);
      tdb.sql('FLUSH SSL;');
    }
    ctx.expectAnswer(await deliverNew(ctx.cgiDriver({ conf: verify })), { status: 200, body: 'applied' }, 'tls: the right certificate back, verify applies again');
  });
}
