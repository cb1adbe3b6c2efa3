-- Seeds :keys active licenses straight into a gateway-migrated database, one developer and one
-- live 'bench-node' each, so validateLicense and checkIn both answer VALID without any argon2
-- signups. Run with: psql -v keys=10000 -v secret=... -f seed.sql
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS pgcrypto;

BEGIN;

-- Plaintext keys never reach the gateway's tables; pgbench reads the digests from here.
CREATE TABLE bench_keys (n int PRIMARY KEY, key_hash text NOT NULL);
INSERT INTO bench_keys
SELECT n, encode(hmac(convert_to('BENCH' || lpad(n::text, 6, '0'), 'UTF8'),
                      convert_to(:'secret', 'UTF8'), 'sha256'), 'hex')
FROM generate_series(1, :keys) AS n;

CREATE TEMP TABLE seeded ON COMMIT DROP AS
SELECT k.n, k.key_hash, gen_random_uuid() AS user_id, gen_random_uuid() AS license_id
FROM bench_keys k;

INSERT INTO users (id, email, name, password_hash, role, email_verified_at, created_at, updated_at)
SELECT user_id, 'bench-' || n || '@bench.invalid', 'Bench ' || n, NULL, 'developer', NULL, now(), now()
FROM seeded;

INSERT INTO licenses (id, developer_id, plan_id, key_hash, key_prefix, product, term, state,
                      payment_state, seats_total, seats_used, starts_at, expires_at, trial_ends_at,
                      grace_ends_at, created_at, updated_at, created_by, updated_by, notes, dba, zip,
                      agents, sms_credits_purchased, sms_credits_sent)
SELECT license_id, user_id, (SELECT id FROM plans WHERE code = 'agency_pro'), key_hash, 'BENCH',
       'core', 'monthly', 'active', 'active', 20, 0, now(), now() + interval '30 days', NULL,
       NULL, now(), now(), NULL, NULL, NULL, NULL, NULL, NULL, 0, 0
FROM seeded;

INSERT INTO runtime_nodes (id, license_id, fingerprint, name, app_url, version, status,
                           last_check_in_at, heartbeat_deadline_at, activated_at, deactivated_at,
                           created_at, updated_at)
SELECT gen_random_uuid(), license_id, 'bench-node', NULL, NULL, NULL, 'active', now(),
       now() + interval '1 day', now(), NULL, now(), now()
FROM seeded;

COMMIT;

-- Fresh rows: vacuum sets their visibility and hint bits now, so neither that nor autovacuum
-- lands inside a measured phase.
VACUUM (ANALYZE) users, licenses, runtime_nodes, bench_keys;
