-- clerksync schema, version 4: the budget of Backend API requests that
-- pulls share across processes (FastCGI workers and CGI runs alike), so
-- that together they stay under clerk_rate_limit. One row per budget,
-- counted in fixed windows of the limit's length by the database's clock.
-- SPDX-License-Identifier: ISC

CREATE TABLE IF NOT EXISTS `clerksync_api_budget` (
  `name`         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `window_start` BIGINT NOT NULL,
  `used`         INT NOT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO `clerksync_schema` (`version`, `applied_at`)
  VALUES (4, UTC_TIMESTAMP(3));
