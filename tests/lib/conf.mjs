import fs from 'node:fs';

export function readConfig(file) {
  const out = {};
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

export function writeConfig(file, entries) {
  const body = Object.entries(entries)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  fs.writeFileSync(file, body + '\n', { mode: 0o600 });
  return file;
}
