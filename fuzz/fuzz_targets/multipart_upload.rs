//! Multipart framing of uploads: any body, under a fixed boundary, read the way the API and the
//! web forms read it — text parts whole (bounded), the file part streamed — ends in parts or a
//! reasoned refusal, never a panic or a hang.
#![no_main]

use actix_web::http::header;
use actix_web::test::TestRequest;
use actix_web::{FromRequest, web};
use anaspoc::edge::{Part, Parts, read_text};
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;

/// The boundary the seed bodies use.
const CONTENT_TYPE: &str = "multipart/form-data; boundary=XyZ0";
/// A file limit small enough that the fuzzer can cross it.
const MAX_UPLOAD_BYTES: u64 = 4096;

fuzz_target!(|data: &[u8]| {
    let (req, mut payload) = TestRequest::post()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .set_payload(data.to_vec())
        .to_http_parts();
    futures::executor::block_on(async {
        let payload = web::Payload::from_request(&req, &mut payload).await.expect("a payload");
        let Ok(mut parts) = Parts::new(&req, payload, MAX_UPLOAD_BYTES) else { return };
        // A body has at most as many parts as it has bytes.
        for _ in 0..=data.len() {
            match parts.next().await {
                Ok(Some(Part::Text { name, field })) => {
                    if let Ok(text) = read_text(&name, field).await {
                        assert!(text.len() <= 64 * 1024);
                    }
                }
                Ok(Some(Part::File(file))) => {
                    let _ = file.filename().map(|name| anaspoc::documents::sanitise_filename(Some(name)));
                    let mut stream = file.into_stream();
                    while let Some(chunk) = stream.next().await {
                        if chunk.is_err() {
                            break;
                        }
                    }
                }
                Ok(None) | Err(_) => return,
            }
        }
        panic!("more parts than bytes in the body");
    });
});
