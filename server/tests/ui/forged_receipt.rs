//! Only a committed audit entry makes a receipt.

use workroom_storage::proof::Receipt;

fn main() {
    let _ = Receipt { _sealed: () };
}
