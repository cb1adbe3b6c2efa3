//! Team members for real, as people meet them: the mailed invitation followed from a real SMTP
//! receiver, the member signing in, the plan's bound on a team, what an invitation to someone
//! else's address reveals (nothing), and a removed member losing its seats, sessions and socket.

use crate::helpers::{
    Developer, MAIL_PUBLIC_URL, TestApp, app_with_mailbox, error_code, initialised_ws,
    mailed_token, receive, send_json, spawn_app,
};
use serde_json::{Value, json};
use std::time::Duration;

const ASSIGN: &str = r#"mutation($l: UUID!, $e: String!) {
    assignSeat(licenseId: $l, userEmail: $e) { id status user { email role } invitation { id email status } }
}"#;

const INVITE: &str =
    r#"mutation($e: String!) { inviteMember(email: $e) { id email status expiresAt } }"#;

const ACCEPT: &str = r#"mutation($t: String!, $p: String!) {
    acceptInvitation(token: $t, name: "Grace Member", password: $p) { accessToken refreshToken user { id email role name } }
}"#;

const MEMBER_PASSWORD: &str = "member-password-1";

async fn accept(app: &TestApp, token: &str) -> Value {
    app.graphql(ACCEPT, json!({ "t": token, "p": MEMBER_PASSWORD }), None)
        .await
}

#[tokio::test]
async fn a_seat_for_a_new_address_is_mailed_accepted_and_held_by_a_member_who_signs_in() {
    let (receiver, app) = app_with_mailbox().await;
    let owner = app.developer("owner@example.com", "pro").await;
    let seat = app
        .graphql(
            ASSIGN,
            json!({ "l": owner.license_id, "e": "Grace@Example.com" }),
            Some(&owner.token),
        )
        .await;
    let seat = &seat["data"]["assignSeat"];
    assert_eq!(seat["status"], "PENDING", "{seat}");
    assert_eq!(seat["invitation"]["email"], "grace@example.com");
    assert_eq!(seat["invitation"]["status"], "PENDING");

    let token = mailed_token(&receiver, "grace@example.com", "/accept-invitation").await;
    assert!(token.starts_with("inv_"), "{token}");
    let joined = accept(&app, &token).await;
    let member = &joined["data"]["acceptInvitation"];
    assert_eq!(member["user"]["role"], "MEMBER", "{joined}");
    assert_eq!(member["user"]["name"], "Grace Member");
    let member_token = member["accessToken"].as_str().expect("token");

    // The link works once.
    let again = accept(&app, &token).await;
    assert_eq!(error_code(&again), Some("VALIDATION"), "{again}");
    assert_eq!(again["errors"][0]["extensions"]["field"], "token");

    // The seat that waited is the member's now, and the member sees its license.
    let license = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { seatsUsed assignments { status user { email } invitation { status } } } }",
            json!({ "id": owner.license_id }),
            Some(&owner.token),
        )
        .await;
    let held = &license["data"]["license"]["assignments"][0];
    assert_eq!(held["status"], "ACTIVE", "{license}");
    assert_eq!(held["user"]["email"], "grace@example.com");
    assert_eq!(held["invitation"]["status"], "ACCEPTED");
    assert_eq!(license["data"]["license"]["seatsUsed"], 1);
    let seen = app
        .graphql(
            "{ me { email role } licenses { totalCount edges { node { id } } } }",
            json!({}),
            Some(member_token),
        )
        .await;
    assert_eq!(seen["data"]["me"]["email"], "grace@example.com", "{seen}");
    assert_eq!(seen["data"]["licenses"]["totalCount"], 1, "{seen}");
    assert_eq!(
        seen["data"]["licenses"]["edges"][0]["node"]["id"],
        owner.license_id.to_string()
    );

    // The member signs in like anyone else, and is on its developer's team.
    let login = app.login("grace@example.com", MEMBER_PASSWORD).await;
    assert_eq!(login["data"]["login"]["user"]["role"], "MEMBER", "{login}");
    let team = app
        .graphql(
            "{ members { totalCount edges { node { email } } } invitations { edges { node { email status } } } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    assert_eq!(team["data"]["members"]["totalCount"], 1, "{team}");
    assert_eq!(
        team["data"]["invitations"]["edges"][0]["node"]["status"],
        "ACCEPTED"
    );
    let trail = app
        .graphql(
            r#"{ auditEvents(first: 50, filter: { typePrefix: "member." }) { edges { node { type } } } }"#,
            json!({}),
            Some(&owner.token),
        )
        .await;
    let types: Vec<&str> = trail["data"]["auditEvents"]["edges"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["node"]["type"].as_str())
        .collect();
    assert_eq!(types, ["member.joined", "member.invited"], "{trail}");
}

#[tokio::test]
async fn a_team_is_bounded_by_its_plan_and_its_own_members_are_not_invited_twice() {
    let app = spawn_app().await;
    let owner = app.developer("solo@example.com", "solo").await; // solo: one team member
    let first = app
        .graphql(
            INVITE,
            json!({ "e": "one@example.com" }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        first["data"]["inviteMember"]["status"], "PENDING",
        "{first}"
    );
    let second = app
        .graphql(
            INVITE,
            json!({ "e": "two@example.com" }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(error_code(&second), Some("QUOTA_EXCEEDED"), "{second}");
    assert_eq!(second["errors"][0]["extensions"]["metric"], "team_members");
    assert_eq!(second["errors"][0]["extensions"]["limit"], 1);
    // Inviting the same address again renews its invitation, it takes no more room.
    let renewed = app
        .graphql(
            INVITE,
            json!({ "e": "ONE@example.com" }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        renewed["data"]["inviteMember"]["id"], first["data"]["inviteMember"]["id"],
        "{renewed}"
    );
    // Withdrawing it makes room.
    let revoked = app
        .graphql(
            "mutation($id: UUID!) { revokeInvitation(invitationId: $id) { status } }",
            json!({ "id": first["data"]["inviteMember"]["id"] }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeInvitation"]["status"], "REVOKED",
        "{revoked}"
    );
    let member = app.team_member(&owner, "two@example.com").await;
    let twice = app
        .graphql(INVITE, json!({ "e": member.email }), Some(&owner.token))
        .await;
    assert_eq!(
        twice["errors"][0]["extensions"]["reason"], "ALREADY_MEMBER",
        "{twice}"
    );
    // Its own address is not an invitation either, and another developer's team is not its.
    let own = app
        .graphql(
            INVITE,
            json!({ "e": "solo@example.com" }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(own["errors"][0]["extensions"]["reason"], "ALREADY_MEMBER");
    let other = app.developer("other@example.com", "pro").await;
    let foreign = app
        .graphql(
            "mutation($e: String!, $d: UUID) { inviteMember(email: $e, developerId: $d) { id } }",
            json!({ "e": "x@example.com", "d": owner.id }),
            Some(&other.token),
        )
        .await;
    assert_eq!(error_code(&foreign), Some("NOT_FOUND"), "{foreign}");
    let by_member = app
        .graphql(INVITE, json!({ "e": "y@example.com" }), Some(&member.token))
        .await;
    assert_eq!(error_code(&by_member), Some("FORBIDDEN"), "{by_member}");
}

#[tokio::test]
async fn an_invitation_to_an_address_with_an_account_links_nothing_and_tells_the_inviter_nothing() {
    let (receiver, app) = app_with_mailbox().await;
    let alice = app.developer("alice@example.com", "pro").await;
    let bob = app.developer("bob@example.com", "pro").await;
    // Signing up mails each developer its verification link first.
    for _ in 0..2 {
        receiver.next_mail(Duration::from_secs(20)).await;
    }
    let to_bob = app
        .graphql(
            INVITE,
            json!({ "e": "bob@example.com" }),
            Some(&alice.token),
        )
        .await;
    let to_nobody = app
        .graphql(
            INVITE,
            json!({ "e": "nobody@example.com" }),
            Some(&alice.token),
        )
        .await;
    let shape = |answer: &Value| {
        let invitation = &answer["data"]["inviteMember"];
        (invitation["status"].clone(), answer["errors"].clone())
    };
    assert_eq!(shape(&to_bob), shape(&to_nobody), "{to_bob} {to_nobody}");

    // Only the mailbox's owner learns the address is taken, when it follows the link.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let mail = receiver.next_mail(Duration::from_secs(20)).await;
        let link = mail
            .link(&format!("{MAIL_PUBLIC_URL}/accept-invitation?token="))
            .expect("link");
        tokens.push((
            mail.recipients[0].clone(),
            link.split_once("?token=").expect("t").1.to_owned(),
        ));
    }
    let bobs = &tokens
        .iter()
        .find(|(to, _)| to == "bob@example.com")
        .expect("bob's")
        .1;
    let refused = accept(&app, bobs).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"], "EMAIL_TAKEN",
        "{refused}"
    );
    let me = app
        .graphql("{ me { role } }", json!({}), Some(&bob.token))
        .await;
    assert_eq!(me["data"]["me"]["role"], "DEVELOPER", "{me}");
    let team = app
        .graphql("{ members { totalCount } }", json!({}), Some(&alice.token))
        .await;
    assert_eq!(team["data"]["members"]["totalCount"], 0, "{team}");
}

#[tokio::test]
async fn a_removed_member_loses_its_seats_its_sessions_and_its_socket() {
    let app = spawn_app().await;
    let alice = app.developer("alice@example.com", "pro").await;
    let bob: Developer = app.developer("bob@example.com", "pro").await;
    let member = app.team_member(&alice, "crew@example.com").await;
    let seat = app
        .graphql(
            ASSIGN,
            json!({ "l": alice.license_id, "e": member.email }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(seat["data"]["assignSeat"]["status"], "ACTIVE", "{seat}");
    let mut socket = initialised_ws(&app.ws_url(), Some(&member.token)).await;
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { licenseEvents { type } }" } }),
    )
    .await;

    let remove = "mutation($id: UUID!) { removeMember(memberId: $id) { email } }";
    for (who, token) in [("bob", &bob.token), ("the member itself", &member.token)] {
        let refused = app
            .graphql(remove, json!({ "id": member.id }), Some(token))
            .await;
        assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{who}: {refused}");
    }
    let removed = app
        .graphql(remove, json!({ "id": member.id }), Some(&alice.token))
        .await;
    assert_eq!(
        removed["data"]["removeMember"]["email"], "crew@example.com",
        "{removed}"
    );
    // The release of its own seat may reach it first; then the socket closes.
    let closed = loop {
        match receive(&mut socket).await {
            Ok(message) if message["type"] == "next" => continue,
            other => break other,
        }
    };
    assert_eq!(closed, Err(Some(4403)));
    let after = app
        .graphql("{ me { email } }", json!({}), Some(&member.token))
        .await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after}");
    let license = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { seatsUsed assignments { id } } }",
            json!({ "id": alice.license_id }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(license["data"]["license"]["seatsUsed"], 0, "{license}");
    // The address is free again: its owner may sign up on its own.
    app.developer("crew@example.com", "solo").await;
}
