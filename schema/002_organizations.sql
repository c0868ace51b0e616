-- clerksync schema, version 2: organizations and their memberships.
-- Runs on MariaDB 10.3+ and MySQL 5.7/8.x (InnoDB, utf8mb4). Safe to run
-- twice. No foreign keys: a membership may arrive before its
-- organization or its user, and a delete before its create.
-- SPDX-License-Identifier: ISC

CREATE TABLE IF NOT EXISTS `organizations` (
  `id`               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  -- Owned by clerksync.
  `clerk_id`         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `name`             VARCHAR(256) NULL,
  `slug`             VARCHAR(255) NULL,
  `image_url`        TEXT NULL,
  `created_by`       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  `public_metadata`  JSON NULL,
  `clerk_created_at` BIGINT NULL,
  `clerk_updated_at` BIGINT NULL,
  `clerk_data`       JSON NULL,
  -- Columns the app adds here are never written by clerksync.
  -- Row bookkeeping, in UTC.
  `created_at`       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `updated_at`       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                       ON UPDATE CURRENT_TIMESTAMP(3),
  `deleted_at`       DATETIME(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `organizations_clerk_id` (`clerk_id`),
  KEY `organizations_slug` (`slug`(191)),
  KEY `organizations_deleted_at` (`deleted_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `organization_memberships` (
  `id`               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  -- Owned by clerksync.
  `clerk_id`         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `org_clerk_id`     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `user_clerk_id`    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `role`             VARCHAR(255) NULL,
  `permissions`      JSON NULL,
  `public_metadata`  JSON NULL,
  `clerk_created_at` BIGINT NULL,
  `clerk_updated_at` BIGINT NULL,
  -- Columns the app adds here are never written by clerksync.
  -- Row bookkeeping, in UTC.
  `created_at`       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `updated_at`       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                       ON UPDATE CURRENT_TIMESTAMP(3),
  `deleted_at`       DATETIME(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `organization_memberships_clerk_id` (`clerk_id`),
  -- "members of organization X" and "organizations of user Y".
  KEY `organization_memberships_org` (`org_clerk_id`, `user_clerk_id`),
  KEY `organization_memberships_user` (`user_clerk_id`, `org_clerk_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  ROW_FORMAT=DYNAMIC;

INSERT IGNORE INTO `clerksync_schema` (`version`, `applied_at`)
  VALUES (2, UTC_TIMESTAMP(3));
