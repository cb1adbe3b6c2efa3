use crate::helpers::{TestApp, error_code, spawn_app};
use entity::prelude::*;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

const ASSIGN: &str = r#"mutation($license: UUID!, $email: String!) {
    assignSeat(licenseId: $license, userEmail: $email) { id status user { email role } license { seatsUsed seatsAvailable } }
}"#;

async fn seats_used(app: &TestApp, license: Uuid) -> i32 {
    Licenses::find_by_id(license)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row")
        .seats_used
}

async fn assign(app: &TestApp, token: &str, license: Uuid, email: &str) -> Value {
    app.graphql(
        ASSIGN,
        json!({ "license": license, "email": email }),
        Some(token),
    )
    .await
}

async fn revoke(app: &TestApp, token: &str, assignment: &Value) -> Value {
    app.graphql(
        "mutation($id: UUID!) { revokeSeat(assignmentId: $id) { status } }",
        json!({ "id": assignment }),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn seats_fill_up_exactly_and_free_again() {
    let app = spawn_app().await;
    let owner = app.developer("seats@example.com", "pro").await; // pro: 3 seats
    let (token, license) = (owner.token.as_str(), owner.license_id);
    for email in ["m0@team.io", "m1@team.io"] {
        app.team_member(&owner, email).await;
    }

    // Members get their seat at once; an address outside the team waits on an invitation,
    // holding its seat meanwhile.
    for n in 0..2 {
        let body = assign(&app, token, license, &format!("m{n}@team.io")).await;
        assert_eq!(body["data"]["assignSeat"]["status"], "ACTIVE", "{body}");
        assert_eq!(body["data"]["assignSeat"]["user"]["role"], "MEMBER");
    }
    let pending = assign(&app, token, license, "m2@team.io").await;
    assert_eq!(
        pending["data"]["assignSeat"]["status"], "PENDING",
        "{pending}"
    );
    assert!(pending["data"]["assignSeat"]["user"].is_null(), "{pending}");
    let full = assign(&app, token, license, "m3@team.io").await;
    assert_eq!(error_code(&full), Some("CONFLICT"));
    assert_eq!(
        full["errors"][0]["extensions"]["reason"],
        "SEAT_LIMIT_REACHED"
    );
    assert_eq!(seats_used(&app, license).await, 3);

    let listed = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { seatsUsed utilizationPercent assignments { id status user { email } } } }",
            json!({ "id": license }),
            Some(token),
        )
        .await;
    assert_eq!(
        listed["data"]["license"]["utilizationPercent"], 100.0,
        "{listed}"
    );
    let assignments = listed["data"]["license"]["assignments"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(assignments.len(), 3);

    let unassign = |email: &'static str| {
        app.graphql(
            "mutation($l: UUID!, $e: String!) { unassignSeat(licenseId: $l, userEmail: $e) { status releasedAt } }",
            json!({ "l": license, "e": email }),
            Some(token),
        )
    };
    let unassigned = unassign("M0@team.io").await;
    assert_eq!(
        unassigned["data"]["unassignSeat"]["status"], "UNASSIGNED",
        "{unassigned}"
    );
    assert_eq!(seats_used(&app, license).await, 2);
    // A pending seat is given back by its address the same way.
    let withdrawn = unassign("m2@team.io").await;
    assert_eq!(
        withdrawn["data"]["unassignSeat"]["status"], "UNASSIGNED",
        "{withdrawn}"
    );
    assert_eq!(seats_used(&app, license).await, 1);

    let again = assign(&app, token, license, "m1@team.io").await;
    assert_eq!(
        again["errors"][0]["extensions"]["reason"], "ALREADY_ASSIGNED",
        "{again}"
    );

    let revoked = revoke(&app, token, &assignments[1]["id"]).await;
    assert_eq!(
        revoked["data"]["revokeSeat"]["status"], "REVOKED",
        "{revoked}"
    );
    let twice = revoke(&app, token, &assignments[1]["id"]).await;
    assert_eq!(twice["errors"][0]["extensions"]["reason"], "NOT_ASSIGNED");
    assert_eq!(seats_used(&app, license).await, 0);
    assert_eq!(
        assign(&app, token, license, "m0@team.io").await["data"]["assignSeat"]["status"],
        "ACTIVE"
    );
}

#[tokio::test]
async fn only_the_owner_or_an_admin_manages_seats() {
    let app = spawn_app().await;
    let license = app.developer("own@example.com", "pro").await.license_id;
    let stranger = app.developer("stranger@example.com", "pro").await;
    let body = assign(&app, &stranger.token, license, "x@team.io").await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let admin = app.admin_token().await;
    let body = assign(&app, &admin, license, "x@team.io").await;
    assert_eq!(body["data"]["assignSeat"]["status"], "PENDING", "{body}");
    let bad = assign(&app, &admin, license, "not an email").await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "userEmail");
}

/// 200 simultaneous requests for distinct addresses on a 10-seat license: each seat waits on
/// an invitation, and only the invitations of seats won are kept.
#[tokio::test]
async fn concurrent_assignments_never_exceed_the_seat_count() {
    let app = spawn_app().await;
    let owner = app.developer("race@example.com", "agency_pro").await; // 20 seats
    let (token, license) = (owner.token, owner.license_id);
    let row = Licenses::find_by_id(license)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    let mut ten = sea_orm::IntoActiveModel::into_active_model(row);
    ten.seats_total = sea_orm::Set(10);
    sea_orm::ActiveModelTrait::update(ten, &app.state.db)
        .await
        .expect("set 10 seats");

    let app = std::sync::Arc::new(app);
    let attempts = (0..200).map(|n| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(
            async move { assign(&app, &token, license, &format!("racer{n}@team.io")).await },
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let (mut won, mut full) = (0, 0);
    for result in results {
        let body = result.expect("task");
        if body["data"]["assignSeat"]["status"] == "PENDING" {
            won += 1;
        } else if body["errors"][0]["extensions"]["reason"] == "SEAT_LIMIT_REACHED" {
            full += 1;
        } else {
            panic!("unexpected answer: {body}");
        }
    }
    assert_eq!((won, full), (10, 190));
    assert_eq!(seats_used(&app, license).await, 10);
    let invitations = Invitations::find().all(&app.state.db).await.expect("q");
    assert_eq!(invitations.len(), 10);
}
