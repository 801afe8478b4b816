-- The favourites demo's schema (MariaDB >= 10.5). Idempotent: safe to run again, also on older versions'
-- databases (ADD COLUMN IF NOT EXISTS brings them up to date).
-- utf8mb4 everywhere: area names and notes are Chinese, and notes may hold any Unicode (emoji included).
SET NAMES utf8mb4;

-- China's administrative divisions (2026 codes): 34 provinces (level 1), 340 cities (2), 3,048 counties (3).
-- district_id is the 6-digit division code (440300 = 深圳市); pid is the parent's code, NULL for a province.
-- pinyin / initials ("shenzhenshi" / "szs") are generated with the data, for search.
CREATE TABLE IF NOT EXISTS areas (
    district_id INT UNSIGNED     NOT NULL,
    pid         INT UNSIGNED     NULL,
    district    VARCHAR(64)      NOT NULL,
    level       TINYINT UNSIGNED NOT NULL,
    longitude   DECIMAL(10, 6)   NULL,
    latitude    DECIMAL(10, 6)   NULL,
    pinyin      VARCHAR(128)     NOT NULL DEFAULT '',
    initials    VARCHAR(32)      NOT NULL DEFAULT '',
    PRIMARY KEY (district_id),
    KEY idx_areas_pid (pid),
    KEY idx_areas_district (district),
    CONSTRAINT fk_areas_parent FOREIGN KEY (pid) REFERENCES areas (district_id),
    CONSTRAINT chk_areas_code CHECK (district_id BETWEEN 100000 AND 999999),
    CONSTRAINT chk_areas_level CHECK (level IN (1, 2, 3)),
    CONSTRAINT chk_areas_parent CHECK ((level = 1) = (pid IS NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
ALTER TABLE areas ADD COLUMN IF NOT EXISTS pinyin VARCHAR(128) NOT NULL DEFAULT '',
                  ADD COLUMN IF NOT EXISTS initials VARCHAR(32) NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS idx_areas_pinyin ON areas (pinyin);
CREATE INDEX IF NOT EXISTS idx_areas_initials ON areas (initials);

-- The accounts. username is unique under utf8mb4_unicode_ci: "Alice" and "alice" are one name.
-- password_hash: scrypt$N$r$p$salt$hash (apps/favorites/accounts.py).
CREATE TABLE IF NOT EXISTS users (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
    username      VARCHAR(32)  NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_username (username)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Failed logins per account ('user', the name) and per client address ('addr'), shared by every process.
CREATE TABLE IF NOT EXISTS login_failures (
    kind         ENUM('user', 'addr') NOT NULL,
    subject      VARCHAR(64)  NOT NULL,
    failures     INT UNSIGNED NOT NULL,
    locked_until DATETIME(3)  NOT NULL,
    PRIMARY KEY (kind, subject)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per user and collected area: the UNIQUE key is what makes "collect" safe under concurrent
-- requests (per user). VARCHAR(200) counts characters, not bytes, in utf8mb4.
CREATE TABLE IF NOT EXISTS favorites (
    id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id     INT UNSIGNED NOT NULL,
    district_id INT UNSIGNED NOT NULL,
    note        VARCHAR(200) NOT NULL DEFAULT '',
    created_at  DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_favorites_user_area (user_id, district_id),
    KEY idx_favorites_area (district_id),
    CONSTRAINT fk_favorites_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_favorites_area FOREIGN KEY (district_id) REFERENCES areas (district_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Databases from before accounts: favourites belonged to nobody and everybody; they cannot be given to
-- anyone, so they go, and the table gets its per-user key.
ALTER TABLE favorites ADD COLUMN IF NOT EXISTS user_id INT UNSIGNED NULL AFTER id;
DELETE FROM favorites WHERE user_id IS NULL;
ALTER TABLE favorites MODIFY user_id INT UNSIGNED NOT NULL,
                      ADD UNIQUE KEY IF NOT EXISTS uq_favorites_user_area (user_id, district_id),
                      ADD KEY IF NOT EXISTS idx_favorites_area (district_id);
ALTER TABLE favorites DROP INDEX IF EXISTS uq_favorites_district;
ALTER TABLE favorites ADD CONSTRAINT fk_favorites_user FOREIGN KEY IF NOT EXISTS (user_id)
                      REFERENCES users (id) ON DELETE CASCADE;

-- Search by part of a name (repository.search: district LIKE '%南%') without scanning every area: each
-- character of each name, so the LIKE runs only on the areas holding one of the search's characters
-- (116 for 南, not 3,422). Kept in step with `areas` by the database itself, however the areas are loaded
-- or changed: the triggers below on insert and update, the foreign key's cascade on delete. The INSERT
-- IGNORE after them fills it for areas loaded before it existed (and repairs it, idempotently).
CREATE TABLE IF NOT EXISTS area_chars (
    ch          CHAR(1)      NOT NULL,
    district_id INT UNSIGNED NOT NULL,
    PRIMARY KEY (ch, district_id),
    KEY idx_area_chars_area (district_id),
    CONSTRAINT fk_area_chars_area FOREIGN KEY (district_id) REFERENCES areas (district_id)
        ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE OR REPLACE TRIGGER areas_chars_insert AFTER INSERT ON areas FOR EACH ROW
    FOR i IN 1 .. CHAR_LENGTH(NEW.district) DO
        INSERT IGNORE INTO area_chars (ch, district_id) VALUES (SUBSTRING(NEW.district, i, 1), NEW.district_id);
    END FOR;
-- sql/areas.sql reloads with INSERT ... ON DUPLICATE KEY UPDATE, which fires this for every area: only a
-- name that really changed (byte for byte) rewrites its characters.
CREATE OR REPLACE TRIGGER areas_chars_update AFTER UPDATE ON areas FOR EACH ROW
    IF CAST(OLD.district AS BINARY) <> CAST(NEW.district AS BINARY) THEN
        DELETE FROM area_chars WHERE district_id = NEW.district_id;
        FOR i IN 1 .. CHAR_LENGTH(NEW.district) DO
            INSERT IGNORE INTO area_chars (ch, district_id)
                VALUES (SUBSTRING(NEW.district, i, 1), NEW.district_id);
        END FOR;
    END IF;
INSERT IGNORE INTO area_chars (ch, district_id)
    WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64)  -- district: VARCHAR(64)
    SELECT SUBSTRING(a.district, n.i, 1), a.district_id FROM areas a JOIN n ON n.i <= CHAR_LENGTH(a.district);

-- The version of the reference data (the areas and their search index), for the app's in-process cache
-- (apps/favorites/refcache.py): a page reads it in the same statement as any areas it reads, and what it
-- caches is keyed by it, so a cached value is used only while the data it came from is unchanged.
-- - every row written to `areas` or `area_chars` moves it on (the triggers below: INSERT, UPDATE, DELETE,
--   REPLACE, INSERT ... ON DUPLICATE KEY UPDATE, LOAD DATA), in the same transaction as the change;
-- - every run of this file gives it a fresh random value (not a count from 1): reloading the data by any
--   means, a dropped and re-created database included, never brings back a version a process has cached.
-- Changes that fire no trigger (TRUNCATE, RENAME TABLE, a dump restored without triggers) must be
-- followed by running this file again, as `python -m scripts.localdb start` does on every start.
-- Replicas: a replicated change carries the new version with it (row-based binlog, same transaction).
CREATE TABLE IF NOT EXISTS data_version (
    name    VARCHAR(32)     NOT NULL,   -- 'areas': the one set of reference data there is
    version BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
INSERT INTO data_version (name, version) VALUES ('areas', FLOOR(1 + RAND() * 9000000000000000000))
    ON DUPLICATE KEY UPDATE version = VALUES(version);
CREATE OR REPLACE TRIGGER areas_version_insert AFTER INSERT ON areas FOR EACH ROW
    UPDATE data_version SET version = version + 1 WHERE name = 'areas';
CREATE OR REPLACE TRIGGER areas_version_update AFTER UPDATE ON areas FOR EACH ROW
    UPDATE data_version SET version = version + 1 WHERE name = 'areas';
CREATE OR REPLACE TRIGGER areas_version_delete AFTER DELETE ON areas FOR EACH ROW
    UPDATE data_version SET version = version + 1 WHERE name = 'areas';
CREATE OR REPLACE TRIGGER area_chars_version_insert AFTER INSERT ON area_chars FOR EACH ROW
    UPDATE data_version SET version = version + 1 WHERE name = 'areas';
CREATE OR REPLACE TRIGGER area_chars_version_update AFTER UPDATE ON area_chars FOR EACH ROW
    UPDATE data_version SET version = version + 1 WHERE name = 'areas';
CREATE OR REPLACE TRIGGER area_chars_version_delete AFTER DELETE ON area_chars FOR EACH ROW
    UPDATE data_version SET version = version + 1 WHERE name = 'areas';
