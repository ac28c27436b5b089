//! Only the store's one mint makes a proof, and only the policy holds the mint.

use workroom_storage::proof::RoomRead;

fn main() {
    let _ = RoomRead {
        room: "rm_1".to_string(),
    };
}
