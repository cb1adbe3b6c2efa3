//! `seed`: the plan catalogue, and optionally sample developers for trying the API.

use crate::auth::{Actor, Caller, Role};
use crate::domain::accounts::service::{SignupInput, signup};
use crate::domain::nodes::service::{self as nodes, NodeInput};
use crate::domain::plans::seed::seed_plans;
use crate::domain::seats::service as seats;
use crate::state::AppState;
use indicatif::{ProgressBar, ProgressStyle};

const DEMO_PLANS: &[&str] = &["solo", "pro", "small_agency", "agency_pro"];

/// Seeds plans, then `demo` sample developers, each with a trialing license, a seat taken and
/// a runtime node checked in.
pub async fn run(app: &AppState, demo: u32) -> anyhow::Result<()> {
    let added = seed_plans(&app.db, app.clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("seeding plans failed: {e:?}"))?;
    println!("plans: {added} added");
    if demo == 0 {
        return Ok(());
    }
    let bar = ProgressBar::new(u64::from(demo));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} developers ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let run_id = &uuid::Uuid::now_v7().simple().to_string()[..8];
    for n in 0..demo {
        let actor = Actor::system(app);
        let input = SignupInput {
            email: format!("demo-{run_id}-{n}@example.com"),
            name: format!("Demo Developer {n}"),
            password: "demo password 1".to_owned(),
            plan_code: DEMO_PLANS[n as usize % DEMO_PLANS.len()].to_owned(),
        };
        let account = signup(&actor, input)
            .await
            .map_err(|e| anyhow::anyhow!("demo signup failed: {e:?}"))?;
        let owner = actor.acting_as(Caller::User {
            id: account.developer.id,
            role: Role::Developer,
        });
        let seat_holder = format!("crew-{run_id}-{n}@example.com");
        seats::assign(&owner, account.license.id, &seat_holder)
            .await
            .map_err(|e| anyhow::anyhow!("demo seat failed: {e:?}"))?;
        let node = NodeInput {
            fingerprint: format!("demo-node-{run_id}-{n}"),
            app_url: Some(format!("https://demo-{n}.example.com")),
            version: Some("1.0.0".to_owned()),
            name: Some("demo".to_owned()),
        };
        nodes::activate(&actor, &account.license_key, node)
            .await
            .map_err(|e| anyhow::anyhow!("demo node failed: {e:?}"))?;
        bar.inc(1);
    }
    bar.finish();
    println!(
        "demo developers: {demo} added, each with a license, a seat and a node (password `demo password 1`)"
    );
    Ok(())
}
