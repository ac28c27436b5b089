//! Any text a client sends as a WebSocket frame (the layer below refuses invalid UTF-8
//! with close 1007, so only text reaches the decoder). Decoding never panics; a frame that
//! decodes encodes again to text that decodes to the same frame (nothing the server acts
//! on is lost or changed by the trip); a refusal always says why.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workroom_protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ClientFrame::decode(text) {
        Ok(frame) => {
            let again = serde_json::to_string(&frame).expect("a decoded frame encodes");
            assert_eq!(
                ClientFrame::decode(&again).as_ref(),
                Ok(&frame),
                "round trip through {again}"
            );
            // What the session reads before dispatching: the type, the request id, the room.
            let _ = (frame.kind(), frame.request_id(), frame.room());
        }
        Err(refused) => assert!(!refused.message.is_empty(), "a refusal says why"),
    }
});
