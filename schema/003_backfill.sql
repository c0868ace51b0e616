-- clerksync schema, version 3: where `clerksync.fcgi backfill` stands, so
-- that an interrupted import resumes. One row per walk (users,
-- organizations).
-- SPDX-License-Identifier: ISC

CREATE TABLE IF NOT EXISTS `clerksync_backfill` (
  `walk`        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `next_offset` BIGINT NOT NULL,
  `started_at`  DATETIME(3) NOT NULL,
  `updated_at`  DATETIME(3) NOT NULL,
  `finished_at` DATETIME(3) NULL,
  PRIMARY KEY (`walk`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO `clerksync_schema` (`version`, `applied_at`)
  VALUES (3, UTC_TIMESTAMP(3));
