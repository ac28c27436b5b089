//! A content read names its room with a proof of the policy's decision, not a string.

async fn history(store: &workroom_storage::Store) {
    let _ = store.history(&"rm_1".to_string(), u64::MAX, 50).await;
}

fn main() {
    let _ = history;
}
