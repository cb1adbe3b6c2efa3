//! The account flows that go by mail, followed from a real SMTP receiver: verifying an address
//! (and what an unverified developer may not do), resetting a forgotten password, changing a
//! known one; each ends the sessions it should, and no answer tells whether an address has an
//! account.

use crate::helpers::{PASSWORD, TestApp, app_with_mailbox, error_code, mailed_token};
use entity::{mail_outbox, prelude::*};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

async fn me(app: &TestApp, token: &str) -> Value {
    app.graphql("{ me { email emailVerifiedAt } }", json!({}), Some(token))
        .await
}

#[tokio::test]
async fn an_unverified_developer_invites_no_one_until_it_follows_its_link() {
    let (receiver, app) = app_with_mailbox().await;
    let developer = app.unverified_developer("new@example.com", "pro").await;
    let token = mailed_token(&receiver, "new@example.com", "/verify-email").await;
    assert!(token.starts_with("ev_"), "{token}");
    assert!(me(&app, &developer.token).await["data"]["me"]["emailVerifiedAt"].is_null());

    let invite = "mutation { inviteMember(email: \"crew@example.com\") { id } }";
    let refused = app.graphql(invite, json!({}), Some(&developer.token)).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let seat = app
        .graphql(
            "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"crew@example.com\") { id } }",
            json!({ "l": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(error_code(&seat), Some("FORBIDDEN"), "{seat}");

    let verify = "mutation($t: String!) { verifyEmail(token: $t) }";
    let done = app.graphql(verify, json!({ "t": token }), None).await;
    assert_eq!(done["data"]["verifyEmail"], true, "{done}");
    assert!(me(&app, &developer.token).await["data"]["me"]["emailVerifiedAt"].is_string());
    let twice = app.graphql(verify, json!({ "t": token }), None).await;
    assert_eq!(
        twice["errors"][0]["extensions"]["field"], "token",
        "{twice}"
    );
    let invited = app.graphql(invite, json!({}), Some(&developer.token)).await;
    assert!(invited["errors"].is_null(), "{invited}");

    // A verified account asks for no second link.
    let again = app
        .graphql(
            "mutation { requestEmailVerification }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(again["data"]["requestEmailVerification"], false, "{again}");
}

#[tokio::test]
async fn a_new_verification_link_replaces_the_old_one() {
    let (receiver, app) = app_with_mailbox().await;
    let developer = app.unverified_developer("late@example.com", "solo").await;
    let first = mailed_token(&receiver, "late@example.com", "/verify-email").await;
    let resent = app
        .graphql(
            "mutation { requestEmailVerification }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(resent["data"]["requestEmailVerification"], true, "{resent}");
    let second = mailed_token(&receiver, "late@example.com", "/verify-email").await;
    let verify = "mutation($t: String!) { verifyEmail(token: $t) }";
    let stale = app.graphql(verify, json!({ "t": first }), None).await;
    assert_eq!(error_code(&stale), Some("VALIDATION"), "{stale}");
    let fresh = app.graphql(verify, json!({ "t": second }), None).await;
    assert_eq!(fresh["data"]["verifyEmail"], true, "{fresh}");
}

#[tokio::test]
async fn a_password_reset_by_mail_ends_every_session_and_tells_no_one_who_has_an_account() {
    let (receiver, app) = app_with_mailbox().await;
    let developer = app.developer("forgot@example.com", "solo").await;
    let signup_refresh = app.login("forgot@example.com", PASSWORD).await;
    let other_session = signup_refresh["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    let request = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    for email in ["nobody@example.com", "FORGOT@example.com"] {
        let asked = app.graphql(request, json!({ "e": email }), None).await;
        assert_eq!(asked["data"]["requestPasswordReset"], true, "{asked}");
    }
    // The one mail goes to the account's address (its verification mail came before it).
    let token = mailed_token(&receiver, "forgot@example.com", "/reset-password").await;
    assert!(token.starts_with("pr_"), "{token}");
    let to_nobody = MailOutbox::find()
        .filter(mail_outbox::Column::Recipient.eq("nobody@example.com"))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(to_nobody, 0, "no mail for an address without an account");

    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) }";
    let weak = app
        .graphql(reset, json!({ "t": token, "p": "short" }), None)
        .await;
    assert_eq!(
        weak["errors"][0]["extensions"]["field"], "password",
        "{weak}"
    );
    let done = app
        .graphql(reset, json!({ "t": token, "p": "a-new-password-2" }), None)
        .await;
    assert_eq!(done["data"]["resetPassword"], true, "{done}");
    for token in [&developer.token, &other_session] {
        let ended = me(&app, token).await;
        assert_eq!(error_code(&ended), Some("UNAUTHENTICATED"), "{ended}");
    }
    let old = app.login("forgot@example.com", PASSWORD).await;
    assert_eq!(error_code(&old), Some("UNAUTHENTICATED"), "{old}");
    let new = app.login("forgot@example.com", "a-new-password-2").await;
    assert!(new["errors"].is_null(), "{new}");
    let twice = app
        .graphql(
            reset,
            json!({ "t": token, "p": "a-third-password-3" }),
            None,
        )
        .await;
    assert_eq!(
        twice["errors"][0]["extensions"]["field"], "token",
        "{twice}"
    );
}

#[tokio::test]
async fn changing_a_password_keeps_this_session_and_ends_the_others() {
    let (_receiver, app) = app_with_mailbox().await;
    let developer = app.developer("change@example.com", "solo").await;
    let other = app.login("change@example.com", PASSWORD).await;
    let other = other["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let wrong = app
        .graphql(
            change,
            json!({ "c": "not-the-password-1", "n": "changed-password-2" }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        wrong["errors"][0]["extensions"]["field"], "currentPassword",
        "{wrong}"
    );
    let changed = app
        .graphql(
            change,
            json!({ "c": PASSWORD, "n": "changed-password-2" }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    assert!(me(&app, &developer.token).await["errors"].is_null());
    assert_eq!(error_code(&me(&app, &other).await), Some("UNAUTHENTICATED"));
    let login = app.login("change@example.com", "changed-password-2").await;
    assert!(login["errors"].is_null(), "{login}");
}
