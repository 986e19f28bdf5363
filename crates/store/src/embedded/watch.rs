//! Watch streams over the shared history. A watcher keeps only a cursor (the last revision it
//! has seen) and reads events from the history itself, so a slow watcher costs no memory and never
//! holds up the writer; one that falls behind compaction ends with `Compacted`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream;
use tokio::sync::watch;

use super::Shared;
use crate::{Result, Revision, WatchEvent, WatchStream};

/// Events read from the history per lock acquisition.
const SCAN_CHUNK: usize = 1024;

struct Cursor {
    shared: Arc<Shared>,
    prefix: String,
    after: Revision,
    revisions: watch::Receiver<Revision>,
    ready: VecDeque<WatchEvent>,
    done: bool,
}

pub(crate) fn watch(shared: Arc<Shared>, prefix: String, after: Revision) -> Result<WatchStream> {
    // Fail at once if the requested history is gone.
    shared.state.read().events_after(&prefix, after, 0)?;
    let revisions = shared.revisions.clone();
    let cursor = Cursor {
        shared,
        prefix,
        after,
        revisions,
        ready: VecDeque::new(),
        done: false,
    };
    Ok(Box::pin(stream::unfold(cursor, next)))
}

async fn next(mut cursor: Cursor) -> Option<(Result<WatchEvent>, Cursor)> {
    loop {
        if let Some(event) = cursor.ready.pop_front() {
            return Some((Ok(event), cursor));
        }
        if cursor.done {
            return None;
        }
        // Mark the current revision seen before scanning, so a commit after the scan wakes us.
        cursor.revisions.borrow_and_update();
        let scanned = cursor
            .shared
            .state
            .read()
            .events_after(&cursor.prefix, cursor.after, SCAN_CHUNK);
        match scanned {
            Ok((events, last)) => {
                cursor.after = last;
                cursor.ready.extend(events);
            }
            Err(err) => {
                cursor.done = true;
                return Some((Err(err), cursor));
            }
        }
        if cursor.ready.is_empty() && cursor.revisions.changed().await.is_err() {
            // The store shut down.
            return None;
        }
    }
}
