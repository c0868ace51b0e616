<?php
// Test driver for examples/php/clerksync.php (tests/php/run.mjs): reads one
// JSON request on stdin, sets up the request globals as a web server would,
// calls the helper and prints one JSON answer. Every warning, notice or
// deprecation is caught and reported, so a test can demand that there were
// none. The library file comes from the request: run.mjs also loads copies
// of it with one check broken, to show that each negative test can fail.
declare(strict_types=1);
error_reporting(E_ALL);
$warnings = [];
set_error_handler(function (int $no, string $msg, string $file, int $line) use (&$warnings): bool {
    // As a well-behaved handler does: what @ silenced is not reported.
    if ((error_reporting() & $no) === 0) {
        return false;
    }
    $warnings[] = "$msg ($no) at " . basename($file) . ":$line";
    return true;
});

$req = json_decode(stream_get_contents(STDIN), true);
require $req['lib'];

if (isset($req['cookie'])) {
    $_COOKIE['__session'] = $req['cookie'];
}
if (isset($req['authorization'])) {
    $_SERVER['HTTP_AUTHORIZATION'] = $req['authorization'];
}
$cfg = $req['cfg'] ?? [];
$out = ['warnings' => &$warnings];
try {
    $pdo = null;
    if (isset($req['db'])) {
        $pdo = new PDO($req['db']['dsn'], $req['db']['user'], $req['db']['password'], [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        ]);
    }
    switch ($req['call']) {
    case 'current_user':
        $out['result'] = clerksync_current_user($pdo, $cfg);
        break;
    case 'ensure_user':
        $out['result'] = clerksync_ensure_user($pdo, $cfg, $req['id']);
        break;
    case 'verify':
        $out['result'] = clerksync_verify_token($req['token'], $cfg);
        break;
    case 'sign':
        $out['result'] = clerksync_pull_request($cfg['pull_secret'], $req['id'], $req['now'] ?? null);
        break;
    default:
        throw new Exception('unknown call');
    }
    $out['error'] = clerksync_last_error();
} catch (Throwable $e) {
    $out['exception'] = get_class($e) . ': ' . $e->getMessage();
}
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
