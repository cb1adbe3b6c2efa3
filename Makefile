# The dev loop. Each target is one command anyone can run.
PG ?= postgres://postgres@127.0.0.1:5432/postgres

run:            ## serve on SQLite (data/gateway.db), GraphiQL at http://127.0.0.1:8080/
	cargo run

test:           ## the suite on SQLite
	cargo test

test-pg:        ## the suite on PostgreSQL, one fresh database per test
	TEST_DATABASE_URL=$(PG) cargo test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

schema:         ## rewrite schema.graphql from the code
	cargo run -q -- export-schema --out schema.graphql

entities:       ## regenerate entity/src from the migrated schema
	SERVER_URL=$(PG) scripts/generate-entities.sh

ci:
	bash .ci/run

.PHONY: run test test-pg lint schema entities ci
