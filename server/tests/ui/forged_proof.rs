//! Only the store's one mint makes a proof, and only the policy holds the mint.

use workroom_protocol::RoomId;
use workroom_storage::proof::RoomRead;

fn main() {
    let _ = RoomRead {
        room: RoomId::try_from("rm_1").unwrap(),
    };
}
