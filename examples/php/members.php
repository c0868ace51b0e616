<?php
// The live members of an organization, by its Clerk id or its slug, with
// their role and, where clerksync has seen the user, their name and email;
// one JSON object a line, oldest membership first:
//   DB_HOST=127.0.0.1 DB_DATABASE=app DB_USERNAME=app DB_PASSWORD=... php members.php org_2abc...
//   php members.php my-team db.ini
// Settings: see db.php (DB_PREFIX for a table_prefix). A membership may
// arrive before its user: then the user's columns are null.
declare(strict_types=1);
require __DIR__ . '/db.php';

if (!isset($argv[1])) {
    fwrite(STDERR, "usage: php members.php ORG_ID_OR_SLUG [db.ini]\n");
    exit(2);
}
$file = clerksync_settings($argv[2] ?? null);
$p = clerksync_name(clerksync_setting($file, 'DB_PREFIX', 'prefix', ''), 'DB_PREFIX');

try {
    $pdo = clerksync_connect($file);
    $q = $pdo->prepare(
        "SELECT m.user_clerk_id, u.email, u.first_name, u.last_name, m.role, m.permissions
           FROM `{$p}organizations` o
           JOIN `{$p}organization_memberships` m
                ON m.org_clerk_id = o.clerk_id AND m.deleted_at IS NULL
           LEFT JOIN `{$p}users` u
                ON u.clerk_id = m.user_clerk_id AND u.deleted_at IS NULL
          WHERE (o.clerk_id = ? OR o.slug = ?) AND o.deleted_at IS NULL
          ORDER BY m.clerk_created_at, m.clerk_id");
    $q->execute([$argv[1], $argv[1]]);
    foreach ($q as $row) {
        $row['permissions'] = clerksync_json($row['permissions']);
        echo json_encode($row, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
    }
} catch (PDOException $e) {
    fwrite(STDERR, 'database: ' . $e->getMessage() . "\n");
    exit(1);
}
