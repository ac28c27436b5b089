//! A transport holds the service, not the store: a handler cannot read around it.

use workroom_server::app::AppState;

async fn handler(state: AppState) {
    let _ = state.service.store.rooms_for_user("u1").await;
}

fn main() {
    let _ = handler;
}
