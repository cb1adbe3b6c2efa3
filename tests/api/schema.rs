/// `schema.graphql` is the SDL the code exports. On drift this rewrites the file and fails, so
/// the fix is to commit the rewritten file.
#[test]
fn schema_file_matches_the_exported_sdl() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let exported = crate::helpers::export_sdl();
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    if on_disk != exported {
        std::fs::write(path, &exported).expect("rewrite schema.graphql");
        panic!("schema.graphql was stale and has been rewritten: review and commit it");
    }
}
