//! `project.watch`: a subscription that sends the current state, then every `plan.changed`, until
//! the client unsubscribes or disconnects (which releases the watch) or the project is deleted.

use std::sync::Arc;

use espctl_protocol::watch::{PlanChangeKind, PlanChanged, ProjectWatchParams};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink};
use tokio::sync::broadcast::error::RecvError;

use crate::server::Daemon;

async fn send(sink: &SubscriptionSink, n: &PlanChanged) -> bool {
    match serde_json::value::to_raw_value(n) {
        Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
        Err(e) => {
            tracing::error!("cannot serialize plan.changed: {e}");
            false
        }
    }
}

/// The handler; `Some(reason)` when the daemon ends the subscription itself.
pub async fn project_watch(
    d: Arc<Daemon>,
    p: ProjectWatchParams,
    pending: PendingSubscriptionSink,
) -> Option<String> {
    let subscribed = match d.watches.subscribe(p).await {
        Ok(s) => s,
        Err(e) => {
            pending.reject(ErrorObjectOwned::from(e)).await;
            return None;
        }
    };
    let Ok(sink) = pending.accept().await else {
        return None;
    };
    // Held until this function returns: unsubscribe, disconnect and the end all release it.
    let _guard = subscribed.guard;
    let mut changes = subscribed.changes;
    if !send(&sink, &subscribed.initial).await {
        return None;
    }
    loop {
        let next = tokio::select! {
            n = changes.recv() => n,
            _ = sink.closed() => return None,
        };
        match next {
            Ok(n) => {
                if !send(&sink, &n).await {
                    return None;
                }
                if n.kind == PlanChangeKind::Removed {
                    return Some(n.reason.clone());
                }
            }
            Err(RecvError::Lagged(_)) => {
                // Too slow for every change: the latest state says where things are now.
                if let Some(latest) = subscribed.watch.latest(&subscribed.view)
                    && !send(&sink, &latest).await
                {
                    return None;
                }
            }
            Err(RecvError::Closed) => {
                return Some(
                    "the watch ended (the project was deleted or the daemon is stopping)".into(),
                );
            }
        }
    }
}
