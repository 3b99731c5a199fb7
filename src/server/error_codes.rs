//! Gives every GraphQL error an `extensions.code` (BAD_USER_INPUT, NOT_FOUND, …), in query
//! and mutation responses and in every subscription event.
use async_graphql::Response;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe,
};
use futures_util::stream::{BoxStream, StreamExt};
use std::sync::Arc;

pub struct ErrorCodesExtension;

impl ExtensionFactory for ErrorCodesExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut resp = next.run(ctx).await;
        crate::error::ensure_codes(&mut resp);
        resp
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut r| {
                crate::error::ensure_codes(&mut r);
                r
            })
            .boxed()
    }
}
