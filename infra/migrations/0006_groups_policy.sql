-- Groups of users and request-level service policy (issue #13): `isogate create group finance`,
-- `isogate create user alice --group finance`, `isogate create service payroll --upstream URL
-- --allow 'group=finance' --deny 'paths=/admin/*'`.
--
-- Shared like 0001-0005 and replayed like them (`spin up --sqlite @...` runs every file on each
-- start), so every statement is idempotent. New data goes in tables of its own (SQLite cannot
-- add a column only if it is missing), read with the records it belongs to in the same query:
-- a user's groups with the credential (a subquery of the token endpoint's and the service
-- path's one credential read), a service's rules with the service (a LEFT JOIN). No storage
-- read is added anywhere.

-- Ids are never given to another group (AUTOINCREMENT), as users' are (0003): rules hold ids.
CREATE TABLE IF NOT EXISTS isogate_groups (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS isogate_group_members (
  group_id INTEGER NOT NULL,                -- isogate_groups.id
  user_id  INTEGER NOT NULL,                -- isogate_users.id
  PRIMARY KEY (group_id, user_id)
);
-- The credential read looks a user's groups up by user.
CREATE INDEX IF NOT EXISTS isogate_group_members_by_user ON isogate_group_members (user_id);

-- A service's rules, as JSON (core/src/policy.rs), written (NULL: none) when the service is
-- created and cleared when it is deleted. A service without a row has no rules: every service
-- created before this migration.
CREATE TABLE IF NOT EXISTS isogate_service_policies (
  service TEXT PRIMARY KEY NOT NULL,        -- the service's name
  rules   TEXT                              -- JSON list of rules; NULL: none
);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (6, '0006_groups_policy');
