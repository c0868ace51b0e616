import crypto from 'node:crypto';
import { Webhook } from 'svix';

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function newSecret() {
  return 'whsec_' + crypto.randomBytes(24).toString('base64');
}

export function newMsgId() {
  const bytes = crypto.randomBytes(27);
  let id = 'msg_';
  for (const b of bytes) id += ALNUM[b % ALNUM.length];
  return id;
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function isUtf8(buf) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

export function signature(secret, msgId, ts, body) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (isUtf8(buf)) return new Webhook(secret).sign(msgId, new Date(ts * 1000), buf.toString('utf8'));
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = crypto.createHmac('sha256', key);
  mac.update(`${msgId}.${ts}.`);
  mac.update(buf);
  return 'v1,' + mac.digest('base64');
}

export function signedHeaders(secret, body, { id = newMsgId(), ts = nowSeconds(), prefix = 'svix' } = {}) {
  const secrets = Array.isArray(secret) ? secret : [secret];
  const sig = secrets.map((s) => signature(s, id, ts, body)).join(' ');
  return {
    'content-type': 'application/json',
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(ts),
    [`${prefix}-signature`]: sig,
  };
}
