import { isDeepStrictEqual, inspect } from 'node:util';

let count = 0;
let failed = 0;

export function diag(msg) {
  for (const line of String(msg).split('\n')) console.log(`# ${line}`);
}

export function ok(cond, msg) {
  count++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${count} - ${String(msg).replace(/\n/g, ' ')}`);
  return !!cond;
}

function show(v) {
  return inspect(v, { depth: 6, breakLength: 120, maxStringLength: 300 });
}

function differences(actual, expected, at = '') {
  const isObj = (v) => v !== null && typeof v === 'object';
  if (isObj(actual) && isObj(expected) && Array.isArray(actual) === Array.isArray(expected)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])];
    return keys.flatMap((k) => differences(actual[k], expected[k], at ? `${at}.${k}` : k));
  }
  if (isDeepStrictEqual(actual, expected)) return [];
  if ((actual === null || actual === undefined) && isObj(expected)) {
    return [`${at || '(value)'}: expected ${Array.isArray(expected) ? 'an array' : 'an object'} (${show(expected).slice(0, 200)}...), got ${actual}`];
  }
  return [`${at || '(value)'}: expected ${show(expected)}, got ${show(actual)}`];
}

export function eq(actual, expected, msg) {
  const good = isDeepStrictEqual(actual, expected);
  ok(good, msg);
  if (!good) {
    const diffs = differences(actual, expected);
    diag(diffs.slice(0, 30).map((d) => `  ${d}`).join('\n'));
    if (diffs.length > 30) diag(`  ... ${diffs.length - 30} more differences`);
  }
  return good;
}

export async function test(name, fn) {
  try {
    await fn();
  } catch (e) {
    ok(false, `${name}: threw ${e && e.message ? e.message.split('\n')[0] : e}`);
    diag(e && e.stack ? e.stack : String(e));
  }
}

export function done() {
  console.log(`1..${count}`);
  diag(`${count - failed} passed, ${failed} failed`);
  return failed;
}

export function summary() {
  return { count, failed };
}
