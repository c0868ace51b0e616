// Faults injected while the simulator delivers: the database stopped and
// restarted, the FastCGI workers SIGKILLed (lighttpd respawns them), and a
// receiver's connection killed while it waits on a row lock we hold. And
// the app writing its own columns meanwhile.
import { childPids, sleep } from '../lib/procs.mjs';
import { deliverOne } from './deliver.mjs';

async function until(cond, { timeout = 120000, interval = 20 } = {}) {
  const end = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(interval);
  }
  return true;
}

export async function restartDatabase(db, log) {
  const t = Date.now();
  await db.stop();
  await sleep(1000);
  await db.start();
  log.push(`database stopped and restarted (${Date.now() - t} ms)`);
}

export async function killBackends(server, log) {
  const before = childPids(server.child.pid);
  for (const pid of before) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  // lighttpd notices and spawns new workers.
  let after = [];
  await until(() => {
    after = childPids(server.child.pid).filter((p) => !before.includes(p));
    return after.length >= before.length;
  }, { timeout: 10000, interval: 50 });
  log.push(`SIGKILLed FastCGI workers ${before.join(',')}; lighttpd respawned ${after.join(',') || 'none'}`);
  return { before, after };
}

// Hold the row lock of a user (or of an organization) with a message still
// queued, deliver that message, and KILL the receiver's connection while it
// waits on our lock. Every event of an organization or a membership writes
// the organization's row first.
const LOCKS = {
  users: { table: 'users', of: (m) => m.user },
  organizations: { table: 'organizations', of: (m) => m.org },
};

export async function killWaitingConnection(db, queue, records, opts, log, { on = 'users' } = {}) {
  const { table, of } = LOCKS[on];
  const present = new Set((await db.query(`SELECT clerk_id FROM ${table}`)).map((r) => r.clerk_id));
  // A first delivery whose svix-id is not queued again (a repeat could
  // overtake it), for an object whose row exists.
  const fits = (m) => of(m) && !m.repeat && queue.queued(m.svixId) === 1;
  const want = queue.peek((m) => fits(m) && present.has(of(m))) || queue.peek(fits);
  if (!want) {
    log.push(`lock-kill (${table}): no queued message left`);
    return 0;
  }
  const target = of(want);
  const conn = await db.rootConnection(db.database);
  let killed = 0;
  let delivery;
  let msg = null;
  try {
    await conn.query('SET SESSION innodb_lock_wait_timeout = 60');
    await conn.beginTransaction();
    // The lock first, then the message: it cannot slip past.
    await conn.query(`SELECT id FROM ${table} WHERE clerk_id = ? FOR UPDATE`, [target]);
    msg = queue.steal((m) => m === want) || queue.steal((m) => fits(m) && of(m) === target);
    if (!msg) {
      log.push(`lock-kill: the messages of ${target} were taken meanwhile`);
      return 0;
    }
    const t0 = Date.now();
    queue.started(msg);
    delivery = deliverOne(msg, opts).then((r) => {
      log.push(`  ${msg.svixId} answered ${r.attempts.map((a) => `${a.status} ${a.word || ''}`.trim()).join(', ')} after ${Date.now() - t0} ms`);
      records.push(r);
      queue.finished(msg);
    });
    // The receiver's statement on the locked table (not another receiver's
    // that merely waits on one of its own kind).
    const waiting = new RegExp(`^\\s*INSERT INTO \`[A-Za-z0-9_]*${table}\``);
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      const [rows] = await conn.query(
        'SELECT t.trx_mysql_thread_id AS id, p.USER AS user, p.INFO AS info FROM information_schema.INNODB_TRX t ' +
          "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE t.trx_state = 'LOCK WAIT' AND p.USER = ?",
        [db.user],
      );
      const victim = rows.find((r) => waiting.test(r.info || ''));
      if (victim) {
        await conn.query(`KILL CONNECTION ${Number(victim.id)}`);
        killed++;
        log.push(`KILL CONNECTION ${victim.id} of a receiver waiting on ${target} (${String(victim.info).slice(0, 40)}...)`);
        break;
      }
      // InnoDB refreshes INNODB_TRX only if nobody read it for 100 ms.
      await sleep(150);
    }
    if (!killed) {
      const [pl] = await conn.query('SELECT ID, USER, STATE, TIME, LEFT(INFO, 40) AS q FROM information_schema.PROCESSLIST WHERE USER = ?', [db.user]);
      log.push(`lock-kill: no receiver waited on ${target} within 3 s (${msg.svixId}${msg.repeat ? ', a repeat' : ''}; processlist ${JSON.stringify(pl)})`);
    }
  } finally {
    try {
      await conn.rollback();
    } catch {}
    conn.destroy();
  }
  await delivery;
  return killed;
}

// The app writes its own columns while clerksync syncs; returns the map
// clerk_id -> { options: [acceptable {bio, country, birthday}] }.
export function appWriter(db, users, { interval = 30 } = {}) {
  const app = new Map();
  let stop = false;
  let n = 0;
  let writes = 0;
  const loop = (async () => {
    while (!stop) {
      const u = users[Math.floor(Math.random() * users.length)];
      n++;
      const next = { bio: `app wrote ${n} ‘bio’ 🚀`, country: ['SE', 'VN', 'PL', 'GB'][n % 4], birthday: `19${50 + (n % 50)}-0${1 + (n % 9)}-1${n % 10}` };
      const prev = app.get(u.id) || { options: [{ bio: null, country: null, birthday: null }] };
      try {
        const res = await db.query('UPDATE users SET bio = ?, country = ?, birthday = ? WHERE clerk_id = ?',
          [next.bio, next.country, next.birthday, u.id]);
        if (res.affectedRows === 1) {
          app.set(u.id, { options: [next] });
          writes++;
        }
      } catch {
        // In doubt (the database went away mid-statement): either value.
        app.set(u.id, { options: [...prev.options, next] });
        if (db.conn) {
          try {
            db.conn.destroy();
          } catch {}
          db.conn = null;
        }
        await sleep(200);
      }
      await sleep(interval);
    }
  })();
  return {
    app,
    get writes() {
      return writes;
    },
    async stop() {
      stop = true;
      await loop;
    },
  };
}

// Run the planned faults at fractions of the delivery progress.
export async function injectFaults({ db, server, queue, records, opts, plan, log }) {
  const done = { restart: 0, killBackends: 0, killConn: 0, killConnOrg: 0, respawned: 0 };
  for (const step of plan) {
    const reached = await until(() => queue.progress >= step.at || queue.next >= queue.items.length);
    if (!reached) break;
    if (step.kind === 'restart') {
      await restartDatabase(db, log);
      done.restart++;
    } else if (step.kind === 'kill-backends') {
      const r = await killBackends(server, log);
      done.killBackends += r.before.length ? 1 : 0;
      done.respawned += r.after.length;
    } else if (step.kind === 'kill-conn') {
      done.killConn += await killWaitingConnection(db, queue, records, opts, log);
    } else if (step.kind === 'kill-conn-org') {
      done.killConnOrg += await killWaitingConnection(db, queue, records, opts, log, { on: 'organizations' });
    }
  }
  return done;
}
