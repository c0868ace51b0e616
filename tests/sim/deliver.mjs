// Delivery the way Svix does it: every message is signed afresh for each
// attempt (same svix-id, new svix-timestamp and signature) and retried on
// any non-2xx answer or transport error, with a short, bounded, jittered
// backoff instead of Svix's hours.
import { nowSeconds, signedHeaders } from '../lib/sign.mjs';
import { sleep } from '../lib/procs.mjs';

export const MAX_ATTEMPTS = 30;

export function backoff(attempt) {
  const base = Math.min(800, 40 * 2 ** attempt);
  return Math.round(base * (0.5 + Math.random()));
}

const is2xx = (s) => s >= 200 && s < 300;

// One message until a 2xx or MAX_ATTEMPTS. Returns the record of attempts.
export async function deliverOne(msg, { send, secret, maxAttempts = MAX_ATTEMPTS }) {
  const rec = { svixId: msg.svixId, user: msg.user || (msg.keys || []).join('/') || null, repeat: !!msg.repeat, attempts: [], final: null };
  for (let i = 0; i < maxAttempts; i++) {
    const req = { headers: signedHeaders(secret, msg.body, { id: msg.svixId, ts: nowSeconds() }), body: msg.body };
    let a;
    try {
      const res = await send(req);
      a = {
        status: res.status,
        word: res.json && typeof res.json === 'object' ? res.json.status || res.json.error || null : null,
        raw: res.json ? undefined : String(res.raw || '').slice(0, 120),
      };
    } catch (e) {
      a = { status: 0, word: null, raw: e.message };
    }
    rec.attempts.push(a);
    if (is2xx(a.status)) {
      rec.final = a;
      return rec;
    }
    await sleep(backoff(i));
  }
  return rec;
}

// A queue the fault injector can take a message out of.
export class Queue {
  constructor(items) {
    this.items = items.slice();
    this.next = 0;
    this.total = items.length;
    this.done = 0;
    this.inflight = new Map(); // user or organization id -> deliveries in flight
    this.overlaps = 0; // deliveries started while another of the same user or organization was in flight
  }

  static keys(m) {
    return m.keys || (m.user ? [m.user] : []);
  }

  started(m) {
    const keys = Queue.keys(m);
    if (keys.some((k) => (this.inflight.get(k) || 0) > 0)) this.overlaps++;
    for (const k of keys) this.inflight.set(k, (this.inflight.get(k) || 0) + 1);
  }

  finished(m) {
    for (const k of Queue.keys(m)) this.inflight.set(k, this.inflight.get(k) - 1);
    this.done++;
  }

  take() {
    while (this.next < this.items.length) {
      const m = this.items[this.next++];
      if (m) return m;
    }
    return null;
  }

  peek(pred) {
    for (let i = this.next; i < this.items.length; i++) if (this.items[i] && pred(this.items[i])) return this.items[i];
    return null;
  }

  // How many queued (not yet taken) deliveries carry this svix-id.
  queued(svixId) {
    let n = 0;
    for (let i = this.next; i < this.items.length; i++) if (this.items[i] && this.items[i].svixId === svixId) n++;
    return n;
  }

  steal(pred) {
    for (let i = this.next; i < this.items.length; i++) {
      const m = this.items[i];
      if (m && pred(m)) {
        this.items[i] = null;
        return m;
      }
    }
    return null;
  }

  get progress() {
    return this.total ? this.done / this.total : 1;
  }
}

// Drain the queue with `concurrency` workers; records go to `records`.
export async function deliverAll(queue, records, opts) {
  const worker = async () => {
    for (let m = queue.take(); m; m = queue.take()) {
      queue.started(m);
      records.push(await deliverOne(m, opts));
      queue.finished(m);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(8, opts.concurrency || 8)) }, worker));
}
