<?php
// clerksync.php: the current user of a PHP app, from Clerk's session token
// and the users table that clerksync keeps. One file, PHP 7.4 or newer, the
// openssl and pdo_mysql extensions (curl for the pull, else PHP's own HTTP
// streams); no Composer. See README.md beside it.
//
//   require __DIR__ . '/clerksync.php';
//   $user = clerksync_current_user($pdo, [
//       'jwt_key' => file_get_contents('/home/acct/clerk-jwt.pem'),
//       'authorized_parties' => ['https://example.com'],
//   ]);
//   if ($user === null) { /* signed out: redirect to the sign-in page */ }
//
// Everything an outsider sends (the cookie, the header, the token) is input:
// a bad one gives null, never a warning or an exception. A bad $cfg (no key,
// a bad table_prefix) is the programmer's: InvalidArgumentException. Database
// errors are PDOExceptions, as the app's PDO is set up to throw them.
// SPDX-License-Identifier: ISC

const CLERKSYNC_TOKEN_MAX = 8192;       // bytes; a Clerk session token is ~1 KiB
const CLERKSYNC_LEEWAY = 5;             // seconds of clock skew (Clerk's default)
const CLERKSYNC_PULL_TIMEOUT = 5;       // seconds for the whole pull

// Why the last call gave null: one of the words below, or "pull: ...".
// 'no_token', 'too_large', 'malformed', 'alg', 'key_type', 'signature',
// 'claims', 'expired', 'not_yet_valid', 'issued_in_future', 'azp',
// 'pending', 'no_user', 'deleted'.
function clerksync_last_error(): ?string
{
    return clerksync_error_slot(false, null);
}

function clerksync_error_slot(bool $set, ?string $why): ?string
{
    static $last = null;
    if ($set) {
        $last = $why;
    }
    return $last;
}

function clerksync_fail(string $why)
{
    clerksync_error_slot(true, $why);
    return null;
}

// The session token of this request: the Authorization header's Bearer
// token (cross-origin requests), else the __session cookie (same origin).
function clerksync_request_token(): ?string
{
    $auth = $_SERVER['HTTP_AUTHORIZATION'] ?? $_SERVER['REDIRECT_HTTP_AUTHORIZATION'] ?? null;
    if (is_string($auth) && preg_match('/^Bearer[ \t]+(\S+)[ \t]*$/i', $auth, $m) === 1) {
        return $m[1];
    }
    $cookie = $_COOKIE['__session'] ?? null;
    return is_string($cookie) && $cookie !== '' ? $cookie : null;
}

// base64url without padding, strictly: null for anything else.
function clerksync_b64url(string $s): ?string
{
    if (preg_match('/^[A-Za-z0-9_-]*$/', $s) !== 1 || strlen($s) % 4 === 1) {
        return null;
    }
    $raw = base64_decode(strtr($s, '-_', '+/'), true);
    return $raw === false ? null : $raw;
}

function clerksync_json_object(string $raw): ?array
{
    $v = json_decode($raw, true, 16, JSON_BIGINT_AS_STRING);
    return is_array($v) && ($raw[0] ?? '') === '{' ? $v : null;
}

function clerksync_public_key(array $cfg)
{
    $pem = $cfg['jwt_key'] ?? null;
    if (!is_string($pem) || strpos($pem, '-----BEGIN PUBLIC KEY-----') === false) {
        throw new InvalidArgumentException('clerksync: jwt_key must be the PEM public key '
            . '(Clerk dashboard: API Keys, Advanced, JWT public key)');
    }
    $key = openssl_pkey_get_public($pem);
    while (openssl_error_string() !== false) {
        // drain OpenSSL's queue: later calls must not see these
    }
    if ($key === false) {
        throw new InvalidArgumentException('clerksync: jwt_key does not parse as a public key');
    }
    return $key;
}

// Verify a Clerk session token without the network (Clerk's manual JWT
// verification): RS256 only, with the instance's RSA key; exp, nbf and iat
// within the leeway; azp among authorized_parties when that list is set
// (a token without azp is then refused, as Clerk's SDK does); a pending
// session (sts = "pending") refused unless accept_pending. Returns the
// claims, or null with clerksync_last_error() saying why.
function clerksync_verify_token(string $token, array $cfg): ?array
{
    $key = clerksync_public_key($cfg);
    $leeway = (int)($cfg['leeway'] ?? CLERKSYNC_LEEWAY);
    $parties = $cfg['authorized_parties'] ?? [];
    if (!is_array($parties)) {
        throw new InvalidArgumentException('clerksync: authorized_parties must be a list of origins');
    }
    if (strlen($token) > CLERKSYNC_TOKEN_MAX) {
        return clerksync_fail('too_large');
    }
    $parts = explode('.', $token);
    // An empty signature is left to the alg and signature checks ("none").
    if (count($parts) !== 3 || $parts[0] === '' || $parts[1] === '') {
        return clerksync_fail('malformed');
    }
    $head = clerksync_b64url($parts[0]);
    $body = clerksync_b64url($parts[1]);
    $sig = clerksync_b64url($parts[2]);
    if ($head === null || $body === null || $sig === null) {
        return clerksync_fail('malformed');
    }
    $header = clerksync_json_object($head);
    $claims = clerksync_json_object($body);
    if ($header === null || $claims === null) {
        return clerksync_fail('malformed');
    }
    // Never the token's choice: not "none", not HS256 keyed by the public key.
    if (($header['alg'] ?? null) !== 'RS256' || isset($header['crit'])) {
        return clerksync_fail('alg');
    }
    // An EC key would verify ECDSA under OPENSSL_ALGO_SHA256: RSA only.
    $details = openssl_pkey_get_details($key);
    if ($details === false || $details['type'] !== OPENSSL_KEYTYPE_RSA) {
        return clerksync_fail('key_type');
    }
    $ok = openssl_verify($parts[0] . '.' . $parts[1], $sig, $key, OPENSSL_ALGO_SHA256);
    while (openssl_error_string() !== false) {
        // drain: a bad signature queues an error
    }
    if ($ok !== 1) {
        return clerksync_fail('signature');
    }
    $num = function ($v): bool {
        return is_int($v) || is_float($v);
    };
    $sub = $claims['sub'] ?? null;
    if (!$num($claims['exp'] ?? null) || !is_string($sub) || preg_match('/^[A-Za-z0-9_]{1,64}$/', $sub) !== 1
        || (isset($claims['nbf']) && !$num($claims['nbf']))
        || (isset($claims['iat']) && !$num($claims['iat']))) {
        return clerksync_fail('claims');
    }
    $now = time();
    if ($claims['exp'] <= $now - $leeway) {
        return clerksync_fail('expired');
    }
    if (isset($claims['nbf']) && $claims['nbf'] > $now + $leeway) {
        return clerksync_fail('not_yet_valid');
    }
    if (isset($claims['iat']) && $claims['iat'] > $now + $leeway) {
        return clerksync_fail('issued_in_future');
    }
    if ($parties !== [] && !in_array($claims['azp'] ?? null, $parties, true)) {
        return clerksync_fail('azp');
    }
    if (($claims['sts'] ?? 'active') !== 'active' && empty($cfg['accept_pending'])) {
        return clerksync_fail('pending');
    }
    clerksync_error_slot(true, null);
    return $claims;
}

function clerksync_users_table(array $cfg): string
{
    $prefix = $cfg['table_prefix'] ?? '';
    if (!is_string($prefix) || preg_match('/^[A-Za-z0-9_]{0,32}$/', $prefix) !== 1) {
        throw new InvalidArgumentException('clerksync: table_prefix: letters, digits and _ only, at most 32');
    }
    return '`' . $prefix . 'users`';
}

// The users row of $id, deleted or not; null if there is none.
function clerksync_user_row(PDO $db, array $cfg, string $id): ?array
{
    $st = $db->prepare('SELECT * FROM ' . clerksync_users_table($cfg) . ' WHERE clerk_id = ?');
    $st->execute([$id]);
    $row = $st->fetch(PDO::FETCH_ASSOC);
    $st->closeCursor();
    return is_array($row) ? $row : null;
}

// The live users row of the request's session, or null: signed out, a bad
// token (clerksync_last_error() says why), or no live row. A deleted user's
// token (it lives a minute after the delete) gives null. With pull_url set,
// a user clerksync has not heard of yet is pulled first (see
// clerksync_ensure_user).
function clerksync_current_user(PDO $db, array $cfg): ?array
{
    $token = clerksync_request_token();
    if ($token === null) {
        clerksync_public_key($cfg);     // a missing key is loud even when signed out
        return clerksync_fail('no_token');
    }
    $claims = clerksync_verify_token($token, $cfg);
    if ($claims === null) {
        return null;
    }
    if (!empty($cfg['pull_url'])) {
        return clerksync_ensure_user($db, $cfg, $claims['sub']);
    }
    $row = clerksync_user_row($db, $cfg, $claims['sub']);
    if ($row === null) {
        return clerksync_fail('no_user');
    }
    return $row['deleted_at'] === null ? $row : clerksync_fail('deleted');
}

// The live users row of $id, pulling it first when clerksync has none (the
// user who just signed up, whose user.created is still on its way): a POST
// to pull_url signed with pull_secret, within pull_timeout seconds. A
// deleted user stays deleted and is not pulled. Returns null when the user
// is deleted, unknown to Clerk, or the pull failed (clerksync_last_error()).
function clerksync_ensure_user(PDO $db, array $cfg, string $id): ?array
{
    if (preg_match('/^user_[A-Za-z0-9]{1,59}$/', $id) !== 1) {
        return clerksync_fail('no_user');
    }
    $row = clerksync_user_row($db, $cfg, $id);
    if ($row === null) {
        $why = clerksync_pull($cfg, $id);
        if ($why !== null) {
            return clerksync_fail('pull: ' . $why);
        }
        $row = clerksync_user_row($db, $cfg, $id);
        if ($row === null) {
            return clerksync_fail('no_user');
        }
    }
    if ($row['deleted_at'] !== null) {
        return clerksync_fail('deleted');
    }
    clerksync_error_slot(true, null);
    return $row;
}

// Standard Webhooks (Svix) signature of a message: "v1,<base64 HMAC-SHA256
// of '{id}.{timestamp}.{body}'>", keyed by the secret after its whsec_
// prefix, base64-decoded. The pull is signed so, as a webhook is.
function clerksync_sign(string $secret, string $msgId, int $timestamp, string $body): string
{
    $s = trim($secret);
    if (strncmp($s, 'whsec_', 6) === 0) {
        $s = substr($s, 6);
    }
    $key = base64_decode($s, true);
    if ($key === false || $key === '') {
        throw new InvalidArgumentException('clerksync: pull_secret must be a whsec_ secret');
    }
    return 'v1,' . base64_encode(hash_hmac('sha256', $msgId . '.' . $timestamp . '.' . $body, $key, true));
}

// The pull request for $id, as [headers, body]: a new message id each time.
function clerksync_pull_request(string $secret, string $id, ?int $now = null): array
{
    $body = json_encode(['type' => 'clerksync.pull', 'data' => ['id' => $id]], JSON_UNESCAPED_SLASHES);
    $msgId = 'msg_pull_' . bin2hex(random_bytes(12));
    $ts = $now ?? time();
    return [[
        'content-type' => 'application/json',
        'webhook-id' => $msgId,
        'webhook-timestamp' => (string)$ts,
        'webhook-signature' => clerksync_sign($secret, $msgId, $ts, $body),
    ], $body];
}

// POST the pull to clerksync (SPEC section 1, "Pull"). Returns null when it
// was answered 200, else why not. Redirects are not followed; TLS is
// verified. pull_transport "curl" or "stream" picks the client (default:
// curl when the extension is loaded).
function clerksync_pull(array $cfg, string $id): ?string
{
    $url = $cfg['pull_url'] ?? null;
    if (!is_string($url) || preg_match('#^https?://#i', $url) !== 1) {
        throw new InvalidArgumentException('clerksync: pull_url must be the http(s) URL of clerksync.fcgi');
    }
    if (!isset($cfg['pull_secret']) || !is_string($cfg['pull_secret'])) {
        throw new InvalidArgumentException('clerksync: pull_secret is needed for a pull');
    }
    $timeout = max(1, (int)($cfg['pull_timeout'] ?? CLERKSYNC_PULL_TIMEOUT));
    [$headers, $body] = clerksync_pull_request($cfg['pull_secret'], $id);
    $lines = [];
    foreach ($headers as $k => $v) {
        $lines[] = "$k: $v";
    }
    $via = $cfg['pull_transport'] ?? (extension_loaded('curl') ? 'curl' : 'stream');
    if ($via === 'curl') {
        $ch = curl_init($url);
        curl_setopt_array($ch, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_CONNECTTIMEOUT => $timeout,
            CURLOPT_TIMEOUT => $timeout,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
        ]);
        $answer = curl_exec($ch);
        $status = (int)curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $cerr = curl_error($ch);
        if (PHP_VERSION_ID < 80000) {
            curl_close($ch);    // PHP 8 frees the handle; 8.5 deprecates this
        }
        if ($answer === false) {
            return 'curl: ' . $cerr;
        }
    } else {
        $ctx = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => implode("\r\n", $lines),
            'content' => $body,
            'timeout' => $timeout,
            'follow_location' => 0,
            'ignore_errors' => true,
        ]]);
        // @: a refused or timed-out request is a warning; it is reported
        // below. The status line comes from the stream's metadata
        // ($http_response_header is deprecated from PHP 8.5).
        $fp = @fopen($url, 'rb', false, $ctx);
        if ($fp === false) {
            return 'no answer';
        }
        $answer = @stream_get_contents($fp);
        $meta = stream_get_meta_data($fp);
        fclose($fp);
        $status = 0;
        foreach ($meta['wrapper_data'] ?? [] as $h) {
            if (is_string($h) && preg_match('#^HTTP/\S+ (\d{3})#', $h, $m) === 1) {
                $status = (int)$m[1];
            }
        }
        if ($answer === false || !empty($meta['timed_out'])) {
            return 'no answer';
        }
    }
    if ($status !== 200) {
        return "HTTP $status";
    }
    return null;
}
