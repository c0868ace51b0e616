<?php
// Lists the live users of the table clerksync keeps (deleted_at IS NULL)
// with the columns the app owns, one JSON object a line:
//   DB_HOST=127.0.0.1 DB_DATABASE=app DB_USERNAME=app DB_PASSWORD=... php users.php
//   php users.php db.ini        (keys: dsn, username, password, table)
// Settings: see db.php. It only reads: clerksync owns every column but
// birthday, country, bio and the ones you add.
declare(strict_types=1);
require __DIR__ . '/db.php';

$file = clerksync_settings($argv[1] ?? null);
$table = clerksync_setting($file, 'DB_TABLE', 'table', 'users');
if ($table === '' || clerksync_name($table, 'DB_TABLE') === '') {
    fwrite(STDERR, "DB_TABLE: letters, digits and _ only\n");
    exit(1);
}

try {
    $pdo = clerksync_connect($file);
    $rows = $pdo->query(
        "SELECT clerk_id, email, username, first_name, last_name, public_metadata,
                birthday, country, bio
           FROM `$table` WHERE deleted_at IS NULL ORDER BY id");
    foreach ($rows as $row) {
        $row['public_metadata'] = clerksync_json($row['public_metadata']);
        echo json_encode($row, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
    }
} catch (PDOException $e) {
    fwrite(STDERR, 'database: ' . $e->getMessage() . "\n");
    exit(1);
}
