//! Tells the integration tests whether this build runs them on PostgreSQL: with
//! `TEST_DATABASE_URL` set, `cfg(postgres_tests)` is on and the PostgreSQL-only tests run;
//! without it they are listed as ignored.
fn main() {
    println!("cargo:rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo:rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=postgres_tests");
    }
}
