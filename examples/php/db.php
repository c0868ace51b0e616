<?php
// The connection shared by users.php and members.php. Settings from the
// environment (Laravel's names; they win) or an ini file given as the
// first argument (keys: dsn, username, password, table, prefix):
//   DB_DSN, or DB_SOCKET / DB_HOST + DB_PORT and DB_DATABASE;
//   DB_USERNAME, DB_PASSWORD; DB_TABLE (users.php; default "users");
//   DB_PREFIX (members.php: clerksync's table_prefix, default empty).
declare(strict_types=1);

function clerksync_setting(array $file, string $env, string $key, ?string $default = null): ?string
{
    $v = getenv($env);
    return $v !== false && $v !== '' ? $v : ($file[$key] ?? $default);
}

function clerksync_settings(?string $path): array
{
    $file = $path !== null ? parse_ini_file($path, false, INI_SCANNER_RAW) : [];
    if ($file === false) {
        fwrite(STDERR, "cannot read $path\n");
        exit(1);
    }
    return $file;
}

function clerksync_connect(array $file): PDO
{
    $dsn = clerksync_setting($file, 'DB_DSN', 'dsn');
    if ($dsn === null) {
        $db = clerksync_setting($file, 'DB_DATABASE', 'database', 'app');
        $socket = clerksync_setting($file, 'DB_SOCKET', 'socket');
        $dsn = $socket !== null
            ? "mysql:unix_socket=$socket;dbname=$db;charset=utf8mb4"
            : sprintf('mysql:host=%s;port=%s;dbname=%s;charset=utf8mb4',
                clerksync_setting($file, 'DB_HOST', 'host', 'localhost'),
                clerksync_setting($file, 'DB_PORT', 'port', '3306'), $db);
    }
    return new PDO($dsn, clerksync_setting($file, 'DB_USERNAME', 'username'),
        clerksync_setting($file, 'DB_PASSWORD', 'password'), [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        ]);
}

// A table name from a setting: letters, digits and _ only.
function clerksync_name(string $name, string $what): string
{
    if (!preg_match('/^[A-Za-z0-9_]{0,64}$/', $name)) {
        fwrite(STDERR, "$what: letters, digits and _ only\n");
        exit(1);
    }
    return $name;
}

// JSON columns arrive as text: decode them (big integers kept as strings).
function clerksync_json(?string $text)
{
    return $text === null ? null : json_decode($text, true, 512, JSON_BIGINT_AS_STRING);
}
