//! Stripe's API as the provider: form-encoded requests authenticated by the secret key, each
//! with an idempotency key so that the one retry after a connection failure or a 5xx cannot
//! act twice. The key is never logged; Stripe's error messages are passed on, its outages are
//! SERVICE_UNAVAILABLE.

use super::{Hosted, Order, PaymentProvider, return_url};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use entity::{plan_prices, subscriptions};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

pub struct StripeClient {
    http: reqwest::Client,
    key: SecretString,
    base: String,
}

type Form = Vec<(String, String)>;

fn field(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

fn plain_id(id: &str) -> AppResult<&str> {
    let plain = !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plain {
        Ok(id)
    } else {
        Err(AppError::internal(anyhow::anyhow!(
            "a provider id that cannot be put in a path"
        )))
    }
}

impl StripeClient {
    pub fn new(key: SecretString, base: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Self {
            http,
            key,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// One call, tried twice when Stripe could not answer, under one idempotency key.
    async fn call(&self, method: Method, path: &str, form: &Form) -> AppResult<Value> {
        let idempotency_key = Uuid::new_v4().to_string();
        let url = format!("{}{path}", self.base);
        let mut last = None;
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let sent = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.key.expose_secret())
                .header("Idempotency-Key", &idempotency_key)
                .form(form)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(err) => {
                    tracing::warn!(%path, error = %err.without_url(), "payment provider unreachable");
                    last = Some(AppError::ServiceUnavailable { retry_after: 5 });
                    continue;
                }
            };
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(body);
            }
            let message = body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("the payment provider refused the request")
                .chars()
                .take(300)
                .collect::<String>();
            tracing::warn!(%path, %status, %message, "payment provider refused");
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                last = Some(AppError::ServiceUnavailable { retry_after: 5 });
                continue;
            }
            return Err(AppError::validation("provider", message));
        }
        Err(last.unwrap_or_else(|| AppError::ServiceUnavailable { retry_after: 5 }))
    }

    fn hosted(answer: Value) -> AppResult<Hosted> {
        let text = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_owned);
        match (text("id"), text("url")) {
            (Some(id), Some(url)) => Ok(Hosted { id, url }),
            _ => Err(AppError::internal(anyhow::anyhow!(
                "the payment provider answered no session url"
            ))),
        }
    }
}

#[async_trait]
impl PaymentProvider for StripeClient {
    fn name(&self) -> &'static str {
        crate::domain::billing::model::STRIPE
    }

    async fn checkout(&self, actor: &Actor, order: &Order<'_>) -> AppResult<Hosted> {
        let price = order.price.provider_price_id.as_deref().ok_or_else(|| {
            AppError::validation(
                "interval",
                "this price is not sold through the payment provider",
            )
        })?;
        let license = order.license_id.to_string();
        let plan_price = order.price.id.to_string();
        let mut form: Form = vec![
            field("mode", "subscription"),
            field("line_items[0][price]", price),
            field("line_items[0][quantity]", "1"),
            field(
                "success_url",
                format!(
                    "{}&session_id={{CHECKOUT_SESSION_ID}}",
                    return_url(&actor.app.config, "success")
                ),
            ),
            field("cancel_url", return_url(&actor.app.config, "cancelled")),
            field("client_reference_id", license.clone()),
            field("metadata[license_id]", license.clone()),
            field("metadata[plan_price_id]", plan_price.clone()),
            field("subscription_data[metadata][license_id]", license),
            field("subscription_data[metadata][plan_price_id]", plan_price),
        ];
        match order.customer_id {
            Some(customer) => form.push(field("customer", customer)),
            None => form.push(field("customer_email", order.developer.email.clone())),
        }
        Self::hosted(
            self.call(Method::POST, "/v1/checkout/sessions", &form)
                .await?,
        )
    }

    async fn portal(&self, actor: &Actor, customer_id: &str) -> AppResult<Hosted> {
        let form = vec![
            field("customer", customer_id),
            field("return_url", actor.app.config.billing.return_url.clone()),
        ];
        Self::hosted(
            self.call(Method::POST, "/v1/billing_portal/sessions", &form)
                .await?,
        )
    }

    async fn cancel(
        &self,
        _: &Actor,
        subscription: &subscriptions::Model,
        at_period_end: bool,
    ) -> AppResult<()> {
        let path = format!(
            "/v1/subscriptions/{}",
            plain_id(&subscription.provider_subscription_id)?
        );
        if at_period_end {
            let form = vec![field("cancel_at_period_end", "true")];
            self.call(Method::POST, &path, &form).await?;
        } else {
            self.call(Method::DELETE, &path, &Vec::new()).await?;
        }
        Ok(())
    }

    async fn resume(&self, _: &Actor, subscription: &subscriptions::Model) -> AppResult<()> {
        let path = format!(
            "/v1/subscriptions/{}",
            plain_id(&subscription.provider_subscription_id)?
        );
        let form = vec![field("cancel_at_period_end", "false")];
        self.call(Method::POST, &path, &form).await?;
        Ok(())
    }

    async fn change_price(
        &self,
        _: &Actor,
        subscription: &subscriptions::Model,
        price: &plan_prices::Model,
    ) -> AppResult<()> {
        let provider_price = price.provider_price_id.as_deref().ok_or_else(|| {
            AppError::validation(
                "planCode",
                "this plan is not sold through the payment provider",
            )
        })?;
        let item = subscription.provider_item_id.as_deref().ok_or_else(|| {
            AppError::validation(
                "subscription",
                "the provider has not reported this subscription's item yet; try again shortly",
            )
        })?;
        let path = format!(
            "/v1/subscriptions/{}",
            plain_id(&subscription.provider_subscription_id)?
        );
        let form = vec![
            field("items[0][id]", item),
            field("items[0][price]", provider_price),
            field("proration_behavior", "create_prorations"),
            field("metadata[plan_price_id]", price.id.to_string()),
        ];
        self.call(Method::POST, &path, &form).await?;
        Ok(())
    }
}
