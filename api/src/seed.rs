//! `seed`: the plan catalogue, and optionally sample developers for trying the API.

use crate::auth::RequestMeta;
use crate::domain::accounts::service::{SignupInput, signup};
use crate::domain::plans::seed::seed_plans;
use crate::state::AppState;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

const DEMO_PLANS: &[&str] = &["solo", "pro", "small_agency", "agency_pro"];

/// Seeds plans, then `demo` sample developers each with a trialing license.
pub async fn run(app: &AppState, demo: u32) -> anyhow::Result<()> {
    let added = seed_plans(&app.db)
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
    let meta = RequestMeta::default();
    for n in 0..demo {
        let input = SignupInput {
            email: format!("demo-{run_id}-{n}@example.com"),
            name: format!("Demo Developer {n}"),
            password: "demo password 1".to_owned(),
            plan_code: DEMO_PLANS[n as usize % DEMO_PLANS.len()].to_owned(),
        };
        signup(app, &meta, input, Utc::now())
            .await
            .map_err(|e| anyhow::anyhow!("demo signup failed: {e:?}"))?;
        bar.inc(1);
    }
    bar.finish();
    println!("demo developers: {demo} added (password `demo password 1`)");
    Ok(())
}
