//! Loads of one relation edge from concurrent requests, sharing statements. A few lanes each
//! take whatever sibling loads are waiting (up to `MAX_KEYS` keys) and answer them all from one
//! statement; a lone load is sent at once, so a quiet gateway adds no delay, and under load the
//! waiting line grows while the lanes are busy and the next statement carries it whole (as key
//! validation does). The request's dataloaders batch by a timer instead; these never wait for
//! one.

use super::loader::LoaderError;
use async_graphql::dataloader::Loader;
use sea_orm::DbErr;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

/// Lanes of one edge: statements of it in flight at once, at most.
const LANES: usize = 4;
/// Keys in one statement, at most; a load is never split, so one may carry more alone.
const MAX_KEYS: usize = 1_000;

type Found<V> = Result<HashMap<Uuid, V>, LoaderError>;

struct Waiting<V> {
    keys: Vec<Uuid>,
    reply: oneshot::Sender<Found<V>>,
}

/// The lanes of the edge `L`, started on first use (inside the runtime that serves requests);
/// they stop when the schema holding this is dropped.
pub struct EdgeLanes<L: Loader<Uuid>> {
    queue: mpsc::UnboundedSender<Waiting<L::Value>>,
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<Waiting<L::Value>>>>,
    loader: Arc<L>,
    started: OnceLock<()>,
}

impl<L: Loader<Uuid, Error = LoaderError>> EdgeLanes<L> {
    pub fn new(loader: L) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        Self {
            queue,
            waiting: Arc::new(Mutex::new(waiting)),
            loader: Arc::new(loader),
            started: OnceLock::new(),
        }
    }

    /// What the edge holds for each of `keys`, loaded with whatever other loads are waiting.
    pub async fn load(&self, keys: Vec<Uuid>) -> Found<L::Value> {
        self.started.get_or_init(|| {
            for _ in 0..LANES {
                tokio::spawn(lane(self.loader.clone(), self.waiting.clone()));
            }
        });
        let (reply, answer) = oneshot::channel();
        let lost = || LoaderError::from(DbErr::Custom("the edge's lanes stopped".to_owned()));
        self.queue
            .send(Waiting { keys, reply })
            .map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?
    }
}

async fn lane<L: Loader<Uuid, Error = LoaderError>>(
    loader: Arc<L>,
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<Waiting<L::Value>>>>,
) {
    loop {
        let batch = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return; // the schema is gone
            };
            let mut keys = first.keys.len();
            let mut batch = vec![first];
            while keys < MAX_KEYS {
                match waiting.try_recv() {
                    Ok(next) => {
                        keys += next.keys.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        answer(&*loader, batch).await;
    }
}

/// One statement for the whole batch; each load gets its own keys' share (a lone load the
/// whole answer, without a copy).
async fn answer<L: Loader<Uuid, Error = LoaderError>>(
    loader: &L,
    mut batch: Vec<Waiting<L::Value>>,
) {
    if batch.len() == 1 {
        let alone = batch.remove(0);
        let found = loader.load(&alone.keys).await;
        // A request that went away no longer needs its answer.
        let _ = alone.reply.send(found);
        return;
    }
    // How many loads want each key: the last one takes the rows, the others get copies (loads
    // of different requests mostly want different keys, so mostly nothing is copied).
    let mut wanted: HashMap<Uuid, usize> = HashMap::new();
    for key in batch.iter().flat_map(|w| w.keys.iter()) {
        *wanted.entry(*key).or_default() += 1;
    }
    let keys: Vec<Uuid> = wanted.keys().copied().collect();
    match loader.load(&keys).await {
        Ok(mut found) => {
            for waiting in batch {
                let share = waiting
                    .keys
                    .iter()
                    .filter_map(|key| {
                        let left = wanted.get_mut(key)?;
                        *left -= 1;
                        let rows = if *left == 0 {
                            found.remove(key)?
                        } else {
                            found.get(key)?.clone()
                        };
                        Some((*key, rows))
                    })
                    .collect();
                let _ = waiting.reply.send(Ok(share));
            }
        }
        Err(err) => {
            for waiting in batch {
                let _ = waiting.reply.send(Err(err.clone()));
            }
        }
    }
}
