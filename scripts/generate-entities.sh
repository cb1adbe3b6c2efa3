#!/usr/bin/env bash
# Regenerates entity/src from the migrated schema: migrates a scratch PostgreSQL database,
# then asks sea-orm-cli to describe it. Run after adding a migration; commit the result.
#   SERVER_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/generate-entities.sh
set -euo pipefail
cd "$(dirname "$0")/.."
server_url="${SERVER_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
scratch="entities_$(date +%s)"
base="${server_url%/*}"

command -v sea-orm-cli >/dev/null || cargo install sea-orm-cli@2.0.4 --locked \
  --no-default-features --features codegen,sqlx-postgres,runtime-tokio-rustls

psql "$server_url" -qc "CREATE DATABASE \"$scratch\""
trap 'psql "$server_url" -qc "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)"' EXIT

DATABASE_URL="$base/$scratch" cargo run -q -p api -- migrate up
sea-orm-cli generate entity -u "$base/$scratch" -o entity/src --lib
cargo fmt -p entity
