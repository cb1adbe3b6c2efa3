use axum::response::Html;

/// GraphiQL with an editable `Authorization` header that also authenticates subscriptions.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("graphiql.html"))
}
