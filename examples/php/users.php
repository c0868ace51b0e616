<?php
// Lists the live users of the table clerksync keeps (deleted_at IS NULL)
// with the columns the app owns, one JSON object a line:
//   DB_HOST=127.0.0.1 DB_DATABASE=app DB_USERNAME=app DB_PASSWORD=... php users.php
//   php users.php db.ini        (keys: dsn, username, password, table)
// Environment (Laravel's names; they win over the file): DB_DSN, or
// DB_SOCKET / DB_HOST + DB_PORT and DB_DATABASE; DB_USERNAME, DB_PASSWORD;
// DB_TABLE (default "users"; with a table_prefix, e.g. "cs_users").
// It only reads: clerksync owns every column but birthday, country, bio
// and the ones you add.
declare(strict_types=1);

$file = isset($argv[1]) ? parse_ini_file($argv[1], false, INI_SCANNER_RAW) : [];
if ($file === false) {
    fwrite(STDERR, "cannot read {$argv[1]}\n");
    exit(1);
}
$setting = function (string $env, string $key, ?string $default = null) use ($file): ?string {
    $v = getenv($env);
    return $v !== false && $v !== '' ? $v : ($file[$key] ?? $default);
};

$dsn = $setting('DB_DSN', 'dsn');
if ($dsn === null) {
    $db = $setting('DB_DATABASE', 'database', 'app');
    $socket = $setting('DB_SOCKET', 'socket');
    $dsn = $socket !== null
        ? "mysql:unix_socket=$socket;dbname=$db;charset=utf8mb4"
        : sprintf('mysql:host=%s;port=%s;dbname=%s;charset=utf8mb4',
            $setting('DB_HOST', 'host', 'localhost'), $setting('DB_PORT', 'port', '3306'), $db);
}
$table = $setting('DB_TABLE', 'table', 'users');
if (!preg_match('/^[A-Za-z0-9_]{1,64}$/', $table)) {
    fwrite(STDERR, "DB_TABLE: letters, digits and _ only\n");
    exit(1);
}

try {
    $pdo = new PDO($dsn, $setting('DB_USERNAME', 'username'), $setting('DB_PASSWORD', 'password'), [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
    ]);
    $rows = $pdo->query(
        "SELECT clerk_id, email, username, first_name, last_name, public_metadata,
                birthday, country, bio
           FROM `$table` WHERE deleted_at IS NULL ORDER BY id");
    foreach ($rows as $row) {
        // JSON columns arrive as text: decode them (big integers kept as strings).
        if ($row['public_metadata'] !== null) {
            $row['public_metadata'] = json_decode($row['public_metadata'], true, 512, JSON_BIGINT_AS_STRING);
        }
        echo json_encode($row, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
    }
} catch (PDOException $e) {
    fwrite(STDERR, 'database: ' . $e->getMessage() . "\n");
    exit(1);
}
