<?php
// A page of a PHP app, for php -S in tests/php/run.mjs: the current user of
// the request as JSON. Any warning or notice is displayed (display_errors),
// so it would break the JSON and the test.
require getenv('CLERKSYNC_PHP_LIB');
$pdo = new PDO(getenv('TEST_DSN'), getenv('TEST_USER'), getenv('TEST_PASSWORD'), [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
]);
$user = clerksync_current_user($pdo, [
    'jwt_key' => file_get_contents(getenv('TEST_PEM')),
    'authorized_parties' => [getenv('TEST_ORIGIN')],
]);
header('Content-Type: application/json');
echo json_encode(['user' => $user === null ? null : $user['clerk_id'], 'error' => clerksync_last_error()]);
