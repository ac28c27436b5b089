//! An audited read (a moderator's history under a grant) is minted unrecorded: it opens
//! nothing until the receipt of its audit record redeems it.

async fn prior_versions(store: &workroom_storage::Store, mint: &workroom_storage::proof::Mint) {
    let room = workroom_protocol::RoomId::try_from("rm_1").unwrap();
    let unrecorded = mint.grant_history(&room);
    let _ = store.prior_versions(&unrecorded, &[]).await;
}

fn main() {
    let _ = prior_versions;
}
