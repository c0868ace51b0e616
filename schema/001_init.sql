-- clerksync schema, version 1: the users table and the events table.
-- Runs on MariaDB 10.3+ and MySQL 5.7/8.x (InnoDB, utf8mb4). Safe to run
-- twice. With a table_prefix, put the prefix before each table name here
-- (or let `clerksync.fcgi migrate` do it).
-- SPDX-License-Identifier: ISC

CREATE TABLE IF NOT EXISTS `users` (
  `id`               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  -- Owned by clerksync.
  `clerk_id`         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `email`            VARCHAR(320) NULL,
  `email_verified`   TINYINT(1) NULL,
  `phone`            VARCHAR(64) NULL,
  `username`         VARCHAR(255) NULL,
  `first_name`       VARCHAR(256) NULL,
  `last_name`        VARCHAR(256) NULL,
  `image_url`        TEXT NULL,
  `external_id`      VARCHAR(255) NULL,
  `public_metadata`  JSON NULL,
  `banned`           TINYINT(1) NOT NULL DEFAULT 0,
  `locked`           TINYINT(1) NOT NULL DEFAULT 0,
  `last_sign_in_at`  BIGINT NULL,
  `clerk_created_at` BIGINT NULL,
  `clerk_updated_at` BIGINT NULL,
  `clerk_data`       JSON NULL,
  -- Owned by the app: clerksync never writes these.
  `birthday`         DATE NULL,
  `country`          VARCHAR(64) NULL,
  `bio`              TEXT NULL,
  -- Row bookkeeping, in UTC.
  `created_at`       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `updated_at`       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                       ON UPDATE CURRENT_TIMESTAMP(3),
  `deleted_at`       DATETIME(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `users_clerk_id` (`clerk_id`),
  KEY `users_email` (`email`(191)),
  KEY `users_username` (`username`(191)),
  KEY `users_external_id` (`external_id`(191)),
  KEY `users_deleted_at` (`deleted_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `clerk_webhook_events` (
  `svix_id`     VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `event_type`  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `object_id`   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `event_ts`    BIGINT NOT NULL,
  `outcome`     ENUM('applied', 'stale') NOT NULL,
  `received_at` DATETIME(3) NOT NULL,
  PRIMARY KEY (`svix_id`),
  KEY `clerk_webhook_events_received_at` (`received_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `clerksync_schema` (
  `version`    INT NOT NULL,
  `applied_at` DATETIME(3) NOT NULL,
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO `clerksync_schema` (`version`, `applied_at`)
  VALUES (1, UTC_TIMESTAMP(3));
