use std::time::Duration;

use super::*;

async fn get_now<T: Clone + Eq + Hash + Send + Sync + 'static>(q: &WorkQueue<T>) -> Option<T> {
    tokio::time::timeout(Duration::from_millis(1), q.get())
        .await
        .ok()
        .flatten()
}

#[tokio::test(start_paused = true)]
async fn dedups_while_queued() {
    let q = WorkQueue::new("test_dedup");
    q.add("a");
    q.add("b");
    q.add("a");
    assert_eq!(q.len(), 2);
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(q.get().await, Some("b"));
    assert_eq!(get_now(&q).await, None);
}

#[tokio::test(start_paused = true)]
async fn item_added_while_processing_comes_back_after_done() {
    let q = WorkQueue::new("test_requeue");
    q.add("a");
    let item = q.get().await.expect("a");
    q.add("a");
    q.add("a");
    // Not handed out again while it is processed.
    assert_eq!(get_now(&q).await, None);
    q.done(&item);
    assert_eq!(q.get().await, Some("a"));
    q.done(&"a");
    assert_eq!(get_now(&q).await, None, "re-added once, handed out once");
}

#[tokio::test(start_paused = true)]
async fn a_waiting_getter_is_woken_by_add_and_by_done() {
    let q = WorkQueue::new("test_wake");
    let getter = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    tokio::task::yield_now().await;
    q.add(1);
    assert_eq!(getter.await.expect("join"), Some(1));

    let getter = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    q.add(1); // while 1 is processing
    tokio::task::yield_now().await;
    assert!(!getter.is_finished());
    q.done(&1);
    assert_eq!(getter.await.expect("join"), Some(1));
}

#[tokio::test(start_paused = true)]
async fn add_after_delivers_at_the_earliest_requested_time() {
    let q = WorkQueue::new("test_add_after");
    let start = Instant::now();
    q.add_after("a", Duration::from_secs(10));
    q.add_after("a", Duration::from_secs(3));
    q.add_after("b", Duration::from_secs(5));
    assert_eq!(q.len(), 0);
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(q.get().await, Some("b"));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    // The later request for "a" was merged into the earlier one.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(60), q.get()).await.ok(),
        None
    );
}

#[tokio::test(start_paused = true)]
async fn an_earlier_add_after_wakes_a_sleeping_getter() {
    let q = WorkQueue::new("test_add_after_earlier");
    q.add_after("late", Duration::from_secs(100));
    let start = Instant::now();
    let getter = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    tokio::task::yield_now().await;
    q.add_after("soon", Duration::from_secs(1));
    assert_eq!(getter.await.expect("join"), Some("soon"));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_backoff_grows_per_item_and_forget_resets_it() {
    let q = WorkQueue::with_rate_limiter(
        "test_backoff",
        RateLimiter::exponential(Duration::from_millis(10), Duration::from_secs(1)),
    );
    let mut waits = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        q.add_rate_limited("a");
        let item = q.get().await.expect("a");
        waits.push(start.elapsed().as_millis());
        q.done(&item);
    }
    assert_eq!(waits, [10, 20, 40, 80, 160]);
    assert_eq!(q.num_requeues(&"a"), 5);
    assert_eq!(q.num_requeues(&"b"), 0);

    q.forget(&"a");
    assert_eq!(q.num_requeues(&"a"), 0);
    let start = Instant::now();
    q.add_rate_limited("a");
    q.get().await.expect("a");
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn shut_down_drains_then_returns_none() {
    let q = WorkQueue::new("test_shutdown");
    q.add(1);
    q.add(2);
    q.add_after(3, Duration::from_secs(1));
    q.shut_down();
    q.add(4);
    assert!(q.is_shutting_down());
    assert_eq!(q.get().await, Some(1));
    assert_eq!(q.get().await, Some(2));
    assert_eq!(q.get().await, None);
    assert_eq!(q.get().await, None);
}

#[tokio::test(start_paused = true)]
async fn shut_down_wakes_every_waiting_getter() {
    let q: WorkQueue<u32> = WorkQueue::new("test_shutdown_wake");
    let getters: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.get().await })
        })
        .collect();
    tokio::task::yield_now().await;
    q.shut_down();
    for getter in getters {
        assert_eq!(getter.await.expect("join"), None);
    }
}

#[tokio::test(start_paused = true)]
async fn many_workers_each_item_once() {
    let q = WorkQueue::new("test_workers");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (q, tx) = (q.clone(), tx.clone());
            tokio::spawn(async move {
                while let Some(item) = q.get().await {
                    let _ = tx.send(item);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    q.done(&item);
                }
            })
        })
        .collect();
    drop(tx);
    for i in 0..100 {
        q.add(i);
    }
    let mut seen = Vec::new();
    while seen.len() < 100 {
        seen.push(rx.recv().await.expect("item"));
    }
    q.shut_down();
    for worker in workers {
        worker.await.expect("join");
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn metrics_are_exported_with_upstream_names() {
    let q = WorkQueue::new("test_metrics");
    q.add("a");
    q.add("b");
    q.add_rate_limited("c");
    let item = q.get().await.expect("a");
    tokio::time::advance(Duration::from_secs(2)).await;
    let text = gather();
    for line in [
        "workqueue_adds_total{name=\"test_metrics\"} 2",
        "workqueue_depth{name=\"test_metrics\"} 1",
        "workqueue_retries_total{name=\"test_metrics\"} 1",
        "workqueue_queue_duration_seconds_count{name=\"test_metrics\"} 1",
        "workqueue_unfinished_work_seconds{name=\"test_metrics\"} 2",
        "workqueue_longest_running_processor_seconds{name=\"test_metrics\"} 2",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    q.done(&item);
    let text = gather();
    assert!(text.contains("workqueue_work_duration_seconds_count{name=\"test_metrics\"} 1"));
    assert!(text.contains("workqueue_unfinished_work_seconds{name=\"test_metrics\"} 0"));
}

fn gather() -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&prometheus::gather(), &mut buf)
        .expect("encode");
    String::from_utf8(buf).expect("utf8")
}
