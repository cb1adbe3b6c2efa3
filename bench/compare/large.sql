-- The "large answer" data of bench/compare.sh, added after `gateway seed --scale N`: :devs
-- developers whose ids sort after every other user's (so they are the last page of
-- `developers`), each with :per licenses (copies of the first licenses, with keys of their own),
-- two active seats per license (held by two existing members) and one active runtime node.
\set ON_ERROR_STOP 1
BEGIN;

CREATE TEMP TABLE large_developers ON COMMIT DROP AS
  SELECT u.*, row_number() OVER (ORDER BY u.id) AS n
  FROM (SELECT * FROM users WHERE role = 'developer' ORDER BY id LIMIT :devs) u;
UPDATE large_developers
   SET id = ('ffffffff-ffff-7fff-bfff-' || lpad(to_hex(n), 12, '0'))::uuid,
       email = 'large-' || n || '@example.com',
       name = 'Large Developer ' || n,
       -- Made now: after every loaded developer by time as well as by id.
       created_at = now(), updated_at = now();
ALTER TABLE large_developers DROP COLUMN n;
INSERT INTO users SELECT * FROM large_developers;

CREATE TEMP TABLE large_licenses ON COMMIT DROP AS
  SELECT l.*, d.id AS owner, row_number() OVER (ORDER BY d.id, l.id) AS n
  FROM large_developers d
  CROSS JOIN LATERAL (SELECT * FROM licenses ORDER BY id LIMIT :per) l;
UPDATE large_licenses
   SET id = ('fffffffe-ffff-7fff-bfff-' || lpad(to_hex(n), 12, '0'))::uuid,
       developer_id = owner, created_by = owner, updated_by = NULL,
       key_hash = 'large:' || n, seats_used = 2, seats_total = greatest(seats_total, 2);
ALTER TABLE large_licenses DROP COLUMN owner, DROP COLUMN n;
INSERT INTO licenses SELECT * FROM large_licenses;

INSERT INTO license_assignments (id, license_id, user_id, status, assigned_at, assigned_by, created_at, updated_at)
SELECT ('fffffffd-ffff-7fff-bfff-' || lpad(to_hex(row_number() OVER (ORDER BY l.id, m.id)), 12, '0'))::uuid,
       l.id, m.id, 'active', l.created_at, l.developer_id, l.created_at, l.created_at
FROM large_licenses l
CROSS JOIN (SELECT id FROM users WHERE role = 'member' ORDER BY id LIMIT 2) m;

INSERT INTO runtime_nodes (id, license_id, fingerprint, name, app_url, version, status, last_check_in_at,
                           heartbeat_deadline_at, activated_at, created_at, updated_at)
SELECT ('fffffffc-ffff-7fff-bfff-' || lpad(to_hex(row_number() OVER (ORDER BY l.id)), 12, '0'))::uuid,
       l.id, 'large-node-' || l.key_hash, 'large node', 'https://large.example.com', '1.0.0', 'active', now(),
       now() + interval '30 days', l.created_at, l.created_at, now()
FROM large_licenses l;

COMMIT;
