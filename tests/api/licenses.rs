use crate::helpers::{TestApp, error_code, spawn_app, time};
use entity::{audit_events, prelude::*};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

const CHANGE: &str = r#"mutation($id: UUID!, $state: LicenseState!, $payment: PaymentState) {
    changeLicenseState(id: $id, state: $state, paymentState: $payment) { state paymentState graceEndsAt }
}"#;

async fn change(
    app: &TestApp,
    id: Uuid,
    state: &str,
    payment: Option<&str>,
    token: Option<&str>,
) -> Value {
    let variables = json!({ "id": id, "state": state, "payment": payment });
    app.graphql(CHANGE, variables, token).await
}

async fn shortcut(app: &TestApp, name: &str, id: Uuid, token: &str) -> Value {
    app.graphql(
        &format!("mutation($id: UUID!) {{ {name}(id: $id) {{ state paymentState expiresAt }} }}"),
        json!({ "id": id }),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn admins_move_licenses_through_the_state_machine_with_an_audit_trail() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.developer("life@example.com", "solo").await.license_id;

    let paid = change(&app, id, "ACTIVE", Some("ACTIVE"), Some(&admin)).await;
    assert_eq!(
        paid["data"]["changeLicenseState"]["state"], "ACTIVE",
        "{paid}"
    );
    assert_eq!(paid["data"]["changeLicenseState"]["paymentState"], "ACTIVE");

    let grace = change(&app, id, "GRACE", Some("FAILED"), Some(&admin)).await;
    assert!(
        grace["data"]["changeLicenseState"]["graceEndsAt"].is_string(),
        "{grace}"
    );

    for (name, state) in [
        ("suspendLicense", "SUSPENDED"),
        ("reinstateLicense", "ACTIVE"),
        ("revokeLicense", "REVOKED"),
    ] {
        let body = shortcut(&app, name, id, &admin).await;
        assert_eq!(body["data"][name]["state"], state, "{name}: {body}");
    }

    let after_revoke = shortcut(&app, "reinstateLicense", id, &admin).await;
    assert_eq!(
        error_code(&after_revoke),
        Some("INVALID_TRANSITION"),
        "{after_revoke}"
    );
    let ext = &after_revoke["errors"][0]["extensions"];
    assert_eq!(
        (ext["from"].as_str(), ext["to"].as_str()),
        (Some("revoked"), Some("active"))
    );

    let changes = AuditEvents::find()
        .filter(audit_events::Column::EventType.eq("license.state_changed"))
        .filter(audit_events::Column::EntityId.eq(id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(
        changes, 5,
        "one audit event per accepted change, none for the refused one"
    );
}

#[tokio::test]
async fn developers_cannot_change_license_state() {
    let app = spawn_app().await;
    let dev = app.developer("self@example.com", "solo").await;
    let id = dev.license_id;
    let body = shortcut(&app, "reinstateLicense", id, &dev.token).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = change(&app, id, "ACTIVE", None, None).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn renewal_extends_from_expiry_or_from_now_when_expired() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let signup = app.signup("renew@example.com", "solo").await;
    let id = signup["license"]["id"].as_str().expect("id");
    let uuid = Uuid::parse_str(id).expect("uuid");
    let trial_end = time(&signup["license"]["trialEndsAt"]);

    let renewed = shortcut(&app, "renewLicense", uuid, &admin).await;
    let expires = time(&renewed["data"]["renewLicense"]["expiresAt"]);
    assert_eq!(renewed["data"]["renewLicense"]["state"], "ACTIVE");
    assert_eq!(
        (expires - trial_end).num_days(),
        30,
        "a monthly term from the old expiry"
    );

    // Long expired: the new term starts now.
    let row = Licenses::find_by_id(uuid)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    let mut expired = row.into_active_model();
    expired.state = Set("expired".into());
    expired.expires_at = Set(Some(
        (chrono::Utc::now() - chrono::Duration::days(90)).into(),
    ));
    expired.update(&app.state.db).await.expect("update");
    let renewed = shortcut(&app, "renewLicense", uuid, &admin).await;
    let expires = time(&renewed["data"]["renewLicense"]["expiresAt"]);
    let from_now = (expires - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&from_now), "{from_now} days from now");
}

#[tokio::test]
async fn licenses_are_visible_to_their_owner_and_admins_only() {
    let app = spawn_app().await;
    let owner = app.developer("owner@example.com", "pro").await;
    let other = app.developer("other@example.com", "pro").await;
    let id = owner.license_id;
    let query = "query($id: UUID!) { license(id: $id) { seatsTotal seatsAvailable utilizationPercent daysUntilExpiry expiring } }";

    let mine = app
        .graphql(query, json!({ "id": id }), Some(&owner.token))
        .await;
    let license = &mine["data"]["license"];
    assert_eq!(license["seatsTotal"], 3, "{mine}");
    assert_eq!(license["seatsAvailable"], 3);
    assert_eq!(license["utilizationPercent"], 0.0);
    assert!((13..=14).contains(&license["daysUntilExpiry"].as_i64().expect("days")));
    assert_eq!(license["expiring"], false);

    let theirs = app
        .graphql(query, json!({ "id": id }), Some(&other.token))
        .await;
    assert_eq!(error_code(&theirs), Some("NOT_FOUND"));
    let admin = app.admin_token().await;
    let any = app.graphql(query, json!({ "id": id }), Some(&admin)).await;
    assert_eq!(any["data"]["license"]["seatsTotal"], 3);
}

const VALIDATE_CODE: &str = "query($k: String!) { validateLicense(key: $k) { code } }";

const CREATE_LICENSE: &str = "mutation($input: CreateLicenseInput!) { createLicense(input: $input) { licenseKey license { id state seatsTotal product dba } } }";

const UPDATE_LICENSE: &str = "mutation($id: UUID!, $input: UpdateLicenseInput!) { updateLicense(id: $id, input: $input) { seatsTotal notes smsCreditsBalance } }";

async fn create_license(app: &TestApp, caller: &str, input: Value) -> Value {
    let variables = json!({ "input": input });
    app.graphql(CREATE_LICENSE, variables, Some(caller)).await
}

async fn update_license(app: &TestApp, caller: &str, id: &str, input: Value) -> Value {
    let variables = json!({ "id": id, "input": input });
    app.graphql(UPDATE_LICENSE, variables, Some(caller)).await
}

#[tokio::test]
async fn licenses_are_created_within_plans_edited_and_rekeyed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = app.developer("issuer@example.com", "pro").await; // pro: 3 seats
    let token = dev.token.as_str();

    let by_admin = create_license(
        &app,
        &admin,
        json!({ "developerId": dev.id, "planCode": "pro", "product": "edge", "customer": { "dba": "Corner Shop" } }),
    )
    .await;
    let issued = &by_admin["data"]["createLicense"];
    assert_eq!(issued["license"]["state"], "ACTIVE", "{by_admin}");
    assert_eq!(issued["license"]["seatsTotal"], 3);
    assert_eq!(issued["license"]["dba"], "Corner Shop");
    let key = issued["licenseKey"].as_str().expect("key");
    let ok = app.graphql(VALIDATE_CODE, json!({ "k": key }), None).await;
    assert_eq!(ok["data"]["validateLicense"]["code"], "VALID");

    let own = create_license(&app, token, json!({ "planCode": "pro", "seatsTotal": 2 })).await;
    assert_eq!(
        own["data"]["createLicense"]["license"]["state"], "TRIALING",
        "{own}"
    );
    let other_plan = create_license(&app, token, json!({ "planCode": "enterprise" })).await;
    assert_eq!(error_code(&other_plan), Some("FORBIDDEN"));
    let too_many = create_license(&app, token, json!({ "planCode": "pro", "seatsTotal": 4 })).await;
    assert_eq!(too_many["errors"][0]["extensions"]["field"], "seatsTotal");

    // Seats never drop below those in use.
    let id = issued["license"]["id"].as_str().expect("id");
    for n in 0..2 {
        app.graphql(
            "mutation($l: UUID!, $e: String!) { assignSeat(licenseId: $l, userEmail: $e) { id } }",
            json!({ "l": id, "e": format!("u{n}@team.io") }),
            Some(&admin),
        )
        .await;
    }
    let below = update_license(&app, &admin, id, json!({ "seatsTotal": 1 })).await;
    assert_eq!(error_code(&below), Some("VALIDATION"), "{below}");
    assert_eq!(below["errors"][0]["extensions"]["field"], "seatsTotal");
    let fits = update_license(&app, &admin, id, json!({ "seatsTotal": 2 })).await;
    assert_eq!(fits["data"]["updateLicense"]["seatsTotal"], 2, "{fits}");
    let owner_terms = update_license(&app, token, id, json!({ "seatsTotal": 3 })).await;
    assert_eq!(error_code(&owner_terms), Some("FORBIDDEN"));
    let owner_notes = update_license(
        &app,
        token,
        id,
        json!({ "notes": "front desk", "customer": { "smsCreditsPurchased": 500, "smsCreditsSent": 120 } }),
    )
    .await;
    assert_eq!(
        owner_notes["data"]["updateLicense"]["notes"], "front desk",
        "{owner_notes}"
    );
    assert_eq!(
        owner_notes["data"]["updateLicense"]["smsCreditsBalance"],
        380
    );

    // A new key works at once; the old one stops.
    let rekeyed = app
        .graphql(
            "mutation($id: UUID!) { regenerateLicenseKey(id: $id) { licenseKey license { keyPrefix } } }",
            json!({ "id": id }),
            Some(token),
        )
        .await;
    let new_key = rekeyed["data"]["regenerateLicenseKey"]["licenseKey"]
        .as_str()
        .expect("new key");
    assert_ne!(new_key, key);
    let old = app.graphql(VALIDATE_CODE, json!({ "k": key }), None).await;
    assert_eq!(old["data"]["validateLicense"]["code"], "NOT_FOUND");
    let new = app
        .graphql(VALIDATE_CODE, json!({ "k": new_key }), None)
        .await;
    assert_eq!(new["data"]["validateLicense"]["code"], "VALID");
}
