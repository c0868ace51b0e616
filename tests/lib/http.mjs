import http from 'node:http';

export function parseCgiOutput(buf) {
  let end = buf.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = buf.indexOf('\n\n');
  if (lf !== -1 && (end === -1 || lf < end)) {
    end = lf;
    sepLen = 2;
  }
  if (end === -1) return { status: 0, headers: {}, json: null, raw: buf.toString('utf8'), body: '' };
  const headers = {};
  for (const line of buf.subarray(0, end).toString('latin1').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const status = headers.status ? parseInt(headers.status, 10) : headers.location ? 302 : 200;
  const body = buf.subarray(end + sepLen).toString('utf8');
  return { status, headers, json: parseJson(body), raw: buf.toString('utf8'), body };
}

export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function cgiEnv({ headers = {}, body, method = 'POST', contentLength, path = '/clerksync' }) {
  const env = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'clerksync-integ',
    SERVER_NAME: '127.0.0.1',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '40000',
    SCRIPT_NAME: path,
    REQUEST_URI: path,
    QUERY_STRING: '',
    REQUEST_METHOD: method,
  };
  const len = contentLength === undefined ? (body ? Buffer.byteLength(body) : 0) : contentLength;
  if (len !== null) env.CONTENT_LENGTH = String(len);
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || v === null) continue;
    const name = k.toLowerCase();
    if (name === 'content-type') env.CONTENT_TYPE = v;
    else if (name !== 'content-length') env['HTTP_' + name.toUpperCase().replace(/-/g, '_')] = v;
  }
  return env;
}

export function postHttp(url, { headers = {}, body, method = 'POST', contentLength, timeout = 20000 }) {
  const u = new URL(url);
  const buf = body === undefined || body === null ? Buffer.alloc(0) : Buffer.from(body);
  const hdrs = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && v !== null) hdrs[k] = v;
  if (contentLength !== null && method !== 'GET') hdrs['content-length'] = String(contentLength ?? buf.length);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: hdrs, agent: false, timeout },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode, headers: res.headers, json: parseJson(raw), raw, body: raw });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : buf);
  });
}
