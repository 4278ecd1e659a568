//! A streaming upload: bytes go to a multipart object write while being hashed (SHA-256) and
//! counted; at most a few parts are buffered, whatever the file size.

use bytes::Bytes;
use object_store::{MultipartUpload, WriteMultipart};
use sha2::{Digest, Sha256};

use super::{ObjectKey, StorageError};
use crate::crypto::envelope::Sealer;
use crate::crypto::keyring::WrappedKey;

/// Bytes kept from the start of the file to detect its media type.
pub const SNIFF_BYTES: usize = 8192;
/// Parts being uploaded at once (2–4 suit two cores; each holds one part in memory).
const PARTS_IN_FLIGHT: usize = 2;

/// A completed object: what the database records about it. Only an [`Upload`] makes one, so
/// whoever holds it holds an object that was just received.
#[derive(Debug)]
pub struct ReceivedObject {
    key: ObjectKey,
    /// Lower-case hex SHA-256 of the bytes.
    sha256: String,
    size: u64,
    /// The first bytes, for media-type detection.
    head: Vec<u8>,
    /// The data key the object is encrypted under, wrapped (none: stored as received).
    sealed: Option<WrappedKey>,
}

impl ReceivedObject {
    /// The object `bytes` make, held in memory whole (a small file, stored in one request).
    pub(super) fn of(key: ObjectKey, bytes: &[u8]) -> Self {
        Self {
            key,
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
            head: bytes[..bytes.len().min(SNIFF_BYTES)].to_vec(),
            sealed: None,
        }
    }

    /// The wrapped data key of an encrypted object (none: stored as received).
    pub fn sealed(&self) -> Option<&WrappedKey> {
        self.sealed.as_ref()
    }

    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// Lower-case hex SHA-256 of the bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes, for media-type detection.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

pub struct Upload {
    key: ObjectKey,
    writer: WriteMultipart,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
    /// Encrypting on the way to the store, and the wrapped key to record.
    sealing: Option<(Sealer, WrappedKey)>,
}

impl Upload {
    pub(super) fn new(
        key: ObjectKey,
        multipart: Box<dyn MultipartUpload>,
        part_size: usize,
        limit: u64,
        sealing: Option<(Sealer, WrappedKey)>,
    ) -> Self {
        Self {
            key,
            writer: WriteMultipart::new_with_chunk_size(multipart, part_size),
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::with_capacity(SNIFF_BYTES),
            sealing,
        }
    }

    /// Append a chunk. Fails with [`StorageError::TooLarge`] as soon as the limit is crossed; the
    /// caller must then [`Upload::abort`].
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(StorageError::TooLarge { limit: self.limit });
        }
        self.hasher.update(&chunk);
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        // What the store receives: the chunk, or what it seals to (the plaintext's hash, size
        // and head are the ones recorded either way).
        let stored = match &mut self.sealing {
            Some((sealer, _)) => sealer.update(&chunk).map_err(|e| StorageError::Sealing(e.to_string()))?,
            None => chunk,
        };
        // Back-pressure: wait while too many parts are in flight, so memory stays bounded.
        self.writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        if !stored.is_empty() {
            self.writer.put(stored);
        }
        Ok(())
    }

    /// Complete the object; only now does it become visible at its key. An empty file is
    /// refused (nothing was uploaded).
    pub async fn finish(self) -> Result<ReceivedObject, StorageError> {
        if self.size == 0 {
            self.abort().await;
            return Err(StorageError::Empty);
        }
        self.complete().await
    }

    /// Complete the object, empty or not: an object the platform itself wrote may be empty (the
    /// text extracted from a scan without words), and is encrypted all the same.
    pub(super) async fn complete(self) -> Result<ReceivedObject, StorageError> {
        let Upload { key, mut writer, hasher, size, head, sealing, .. } = self;
        let sealed = match sealing {
            Some((sealer, wrapped)) => {
                writer.put(sealer.finish().map_err(|e| StorageError::Sealing(e.to_string()))?);
                Some(wrapped)
            }
            None => None,
        };
        writer.finish().await?;
        Ok(ReceivedObject { key, sha256: hex::encode(hasher.finalize()), size, head, sealed })
    }

    /// Abandon the upload: parts already sent are discarded and nothing becomes visible.
    pub async fn abort(self) {
        let key = self.key.clone();
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(key = key.as_str(), %error, "aborting a multipart upload failed");
        }
    }
}
