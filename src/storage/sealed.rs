//! Encrypted objects in the store (issue 21): with a keyring, an upload is sealed chunk by chunk
//! on its way to the store under a fresh data key wrapped for the originating organisation, and
//! a download fetches only the stored chunks its range needs and opens them one at a time —
//! memory stays bounded both ways, and a chunk that fails authentication ends the stream with
//! an error before any of its bytes are served. The wrapped key and the plaintext size live in
//! the database with the version (what says which chunk is the last).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::{GetOptions, GetRange, ObjectStoreExt};

use super::{Download, ObjectKey, Storage, StorageError, Upload};
use crate::crypto::envelope::{DataKey, Opener, Sealer, stored_range};
use crate::crypto::keyring::{FileKeyring, Keyring, KeyringError, WrappedKey};

/// How an encrypted object was stored: its wrapped data key and its plaintext size.
#[derive(Clone, Copy, Debug)]
pub struct Sealed<'a> {
    pub wrapped: &'a WrappedKey,
    pub size: u64,
}

fn keyring_error(error: KeyringError) -> StorageError {
    match error {
        KeyringError::Destroyed(_) => StorageError::KeysDestroyed,
        KeyringError::Tampered | KeyringError::UnknownVersion { .. } => StorageError::Tampered(error.to_string()),
        other => StorageError::Sealing(other.to_string()),
    }
}

impl Storage {
    /// The configured store, with the keyring when `[crypto]` is enabled. A keyring that others
    /// may read, or a master key that does not open it, refuses to start.
    pub fn from_config(settings: &crate::config::Settings) -> Result<Self, StorageError> {
        let storage = Self::from_settings(&settings.storage)?;
        let crypto = &settings.crypto;
        if !crypto.enabled {
            return Ok(storage);
        }
        let keyring = FileKeyring::from_config(crypto).map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(storage.with_keyring(Arc::new(keyring)))
    }

    /// The same store, able to encrypt new objects and open encrypted ones with `keyring`.
    pub fn with_keyring(mut self, keyring: Arc<dyn Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Whether what this store writes is encrypted.
    pub fn encrypts(&self) -> bool {
        self.keyring.is_some()
    }

    fn keyring(&self) -> Result<&Arc<dyn Keyring>, StorageError> {
        self.keyring.as_ref().ok_or_else(|| StorageError::Config("encryption needs a keyring ([crypto])".into()))
    }

    /// An upload of an object of `organisation`'s: sealed when this store has a keyring, as
    /// received otherwise.
    pub async fn begin_upload_for(
        &self,
        key: ObjectKey,
        limit: u64,
        organisation: &str,
    ) -> Result<Upload, StorageError> {
        if self.keyring.is_some() {
            self.begin_sealed_upload(key, limit, organisation).await
        } else {
            self.begin_upload(key, limit).await
        }
    }

    /// A small object of `organisation`'s held in memory, stored in one go: sealed when this
    /// store has a keyring, as received otherwise.
    pub async fn put_received_for(
        &self,
        key: ObjectKey,
        bytes: Bytes,
        limit: u64,
        organisation: &str,
    ) -> Result<super::ReceivedObject, StorageError> {
        if self.keyring.is_none() {
            return self.put_received(key, bytes, limit).await;
        }
        let mut upload = self.begin_sealed_upload(key, limit, organisation).await?;
        if let Err(error) = upload.write(bytes).await {
            upload.abort().await;
            return Err(error);
        }
        upload.finish().await
    }

    /// Whether an object recorded as `sealed` (its column) can never be read again: its
    /// organisation's keys were destroyed.
    pub fn keys_destroyed(&self, sealed: Option<&str>) -> bool {
        match (&self.keyring, sealed.and_then(WrappedKey::from_column)) {
            (Some(keyring), Some(wrapped)) => keyring.destroyed(&wrapped.organisation),
            _ => false,
        }
    }

    /// A small object of `organisation`'s (extracted text), in one request: sealed when this
    /// store has a keyring (the wrapped key returned), as given otherwise.
    pub async fn put_for(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        organisation: &str,
    ) -> Result<Option<WrappedKey>, StorageError> {
        if self.keyring.is_none() {
            self.put(key, bytes).await?;
            return Ok(None);
        }
        let data_key = DataKey::generate().map_err(|e| StorageError::Sealing(e.to_string()))?;
        let wrapped = self.keyring()?.wrap(organisation, &data_key).map_err(keyring_error)?;
        let mut sealer = Sealer::new(&data_key, key.as_str()).map_err(|e| StorageError::Sealing(e.to_string()))?;
        let mut sealed = sealer.update(&bytes).map_err(|e| StorageError::Sealing(e.to_string()))?.to_vec();
        sealed.extend_from_slice(&sealer.finish().map_err(|e| StorageError::Sealing(e.to_string()))?);
        self.put(key, Bytes::from(sealed)).await?;
        Ok(Some(wrapped))
    }

    /// A small object stored by [`Storage::put_for`] (or [`Storage::begin_upload_for`]) as
    /// UTF-8 text (lossy).
    pub async fn read_object_to_string(
        &self,
        key: &ObjectKey,
        sealed: Option<&str>,
        size: u64,
    ) -> Result<String, StorageError> {
        if sealed.is_none() {
            return self.read_to_string(key).await;
        }
        let download = self.download_object(key, None, sealed, size).await?;
        let parts: Vec<Bytes> = download.stream.try_collect().await?;
        Ok(String::from_utf8_lossy(&parts.concat()).into_owned())
    }

    /// Stream an object as stored by [`Storage::begin_upload_for`]: `sealed` is its column
    /// (`WrappedKey::to_column`; none: stored as received), `size` its plaintext size.
    pub async fn download_object(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
        sealed: Option<&str>,
        size: u64,
    ) -> Result<Download, StorageError> {
        match sealed {
            None => self.download(key, range).await,
            Some(column) => {
                let wrapped = WrappedKey::from_column(column)
                    .ok_or_else(|| StorageError::Tampered("the recorded key cannot be read".into()))?;
                self.download_sealed(key, range, Sealed { wrapped: &wrapped, size }).await
            }
        }
    }

    /// Like [`Storage::begin_upload`], sealed under a fresh data key wrapped for `organisation`
    /// (`country:organisation`); the received object carries the wrapped key.
    pub async fn begin_sealed_upload(
        &self,
        key: ObjectKey,
        limit: u64,
        organisation: &str,
    ) -> Result<Upload, StorageError> {
        let data_key = DataKey::generate().map_err(|e| StorageError::Sealing(e.to_string()))?;
        let wrapped = self.keyring()?.wrap(organisation, &data_key).map_err(keyring_error)?;
        let sealer = Sealer::new(&data_key, key.as_str()).map_err(|e| StorageError::Sealing(e.to_string()))?;
        self.breaker.admit()?;
        let multipart = self.guarded(self.store.put_multipart(&key.0).await.map_err(StorageError::from))?;
        Ok(Upload::new(key, multipart, self.part_size, limit, Some((sealer, wrapped))))
    }

    /// Encrypt an object stored as received (before encryption was enabled): its bytes are
    /// streamed from `from` into a sealed object for `organisation` at `to`; `from` is left as it
    /// is — the caller switches the database to `to`, then deletes it. The received object
    /// carries the plaintext's size and SHA-256, for the caller to hold against what was recorded
    /// (an object altered in the store must not be sealed as if it were genuine).
    pub async fn seal_existing(
        &self,
        from: &ObjectKey,
        to: ObjectKey,
        organisation: &str,
    ) -> Result<super::ReceivedObject, StorageError> {
        let mut plaintext = self.download(from, None).await?.stream;
        let mut upload = self.begin_sealed_upload(to, u64::MAX, organisation).await?;
        while let Some(piece) = plaintext.next().await {
            if let Err(error) = match piece {
                Ok(bytes) => upload.write(bytes).await,
                Err(error) => Err(error),
            } {
                upload.abort().await;
                return Err(error);
            }
        }
        upload.complete().await
    }

    /// Stream the plaintext of an encrypted object, or the range `range` of it.
    pub async fn download_sealed(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
        sealed: Sealed<'_>,
    ) -> Result<Download, StorageError> {
        let data_key = self.keyring()?.unwrap(sealed.wrapped).map_err(keyring_error)?;
        let range = range.map_or(0..sealed.size, |r| r.start.min(sealed.size)..r.end.min(sealed.size));
        let wanted = stored_range(range.clone(), sealed.size);
        let opener = Opener::new(&data_key, key.as_str(), &wanted, sealed.size)
            .map_err(|e| StorageError::Sealing(e.to_string()))?;
        if range.is_empty() {
            let done = opener.finish().map_err(|e| StorageError::Tampered(e.to_string()))?;
            return Ok(Download { range, stream: futures_util::stream::iter([Ok(done)]).boxed() });
        }
        let options = GetOptions { range: Some(GetRange::Bounded(wanted.stored.clone())), ..GetOptions::default() };
        self.breaker.admit()?;
        let result = self.guarded(self.store.get_opts(&key.0, options).await.map_err(|e| match e {
            object_store::Error::NotFound { path, .. } => StorageError::NotFound(path),
            other => StorageError::Store(other),
        }))?;
        let stored = result.into_stream().map_err(StorageError::Store);
        // Each stored read opens into whole chunks' plaintext, handed on one chunk at a time.
        let opened = futures_util::stream::unfold((stored, Some(opener)), |(mut stored, opener)| async move {
            let mut opener = opener?;
            let opened = match stored.next().await {
                Some(Ok(bytes)) => opener.update(bytes),
                Some(Err(error)) => return Some((Err(error), (stored, None))),
                None => {
                    let last = opener.finish().map_err(|e| StorageError::Tampered(e.to_string()));
                    return Some((last.map(|bytes| vec![bytes]), (stored, None)));
                }
            };
            match opened {
                Ok(chunks) => Some((Ok(chunks), (stored, Some(opener)))),
                Err(error) => Some((Err(StorageError::Tampered(error.to_string())), (stored, None))),
            }
        });
        let stream = opened
            .map_ok(|chunks| futures_util::stream::iter(chunks.into_iter().map(Ok)))
            .try_flatten()
            .try_filter(|bytes| std::future::ready(!bytes.is_empty()));
        Ok(Download { range, stream: stream.boxed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Profile, Settings};
    use crate::crypto::envelope::{CHUNK_LEN, HEADER_LEN, TAG_LEN, stored_len};
    use crate::crypto::keyring::MasterKey;

    const MASTER: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn storage(dir: &std::path::Path) -> Storage {
        let mut settings = Settings::load(&Profile::Named("demo".into())).expect("settings");
        settings.storage.path = dir.join("objects").display().to_string();
        let master = MasterKey::from_base64(MASTER).expect("master");
        let keyring = FileKeyring::open(&dir.join("keyring.json"), master).expect("keyring");
        Storage::from_settings(&settings.storage).expect("storage").with_keyring(Arc::new(keyring))
    }

    fn plaintext(len: usize) -> Vec<u8> {
        let line = b"Strateska analiza, operacija ADRIATIK: kokain kroz luku Bar. ";
        line.iter().cycle().take(len).copied().collect()
    }

    async fn upload(storage: &Storage, key: &ObjectKey, data: &[u8]) -> crate::storage::ReceivedObject {
        let mut upload = storage.begin_sealed_upload(key.clone(), u64::MAX, "RS:RS-MUP").await.expect("begin");
        for piece in data.chunks(100_000) {
            upload.write(Bytes::copy_from_slice(piece)).await.expect("write");
        }
        upload.finish().await.expect("finish")
    }

    async fn read(
        storage: &Storage,
        key: &ObjectKey,
        range: Option<Range<u64>>,
        wrapped: &WrappedKey,
        size: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let download = storage.download_sealed(key, range, Sealed { wrapped, size }).await?;
        let parts: Vec<Bytes> = download.stream.try_collect().await?;
        Ok(parts.concat())
    }

    #[tokio::test]
    async fn sealed_objects_round_trip_by_range_and_hold_no_plaintext() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = storage(dir.path());
        let key = ObjectKey::version(uuid::Uuid::new_v4(), 1);
        let data = plaintext(3 * CHUNK_LEN + 1234);
        let received = upload(&storage, &key, &data).await;
        let size = data.len() as u64;
        assert_eq!(received.size(), size, "the plaintext size is recorded");
        assert_eq!(received.sha256(), hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)), "and its hash");
        let wrapped = received.sealed().expect("sealed").clone();
        let stored = std::fs::read(dir.path().join("objects").join(key.as_str())).expect("stored bytes");
        assert_eq!(stored.len() as u64, stored_len(size));
        assert!(!stored.windows(8).any(|w| w == b"ADRIATIK"), "no plaintext in the store");

        assert_eq!(read(&storage, &key, None, &wrapped, size).await.expect("whole"), data);
        let c = CHUNK_LEN as u64;
        for range in [0..1, c - 3..c + 3, c..2 * c, 3 * c..size, size - 1..size] {
            let got = read(&storage, &key, Some(range.clone()), &wrapped, size).await.expect("range");
            assert_eq!(got, data[range.start as usize..range.end as usize], "{range:?}");
        }
    }

    #[tokio::test]
    async fn a_tampered_object_fails_and_serves_nothing_of_the_bad_chunk() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = storage(dir.path());
        let key = ObjectKey::version(uuid::Uuid::new_v4(), 1);
        let data = plaintext(2 * CHUNK_LEN + 10);
        let received = upload(&storage, &key, &data).await;
        let wrapped = received.sealed().expect("sealed").clone();
        let path = dir.path().join("objects").join(key.as_str());
        let mut stored = std::fs::read(&path).expect("stored");
        // One byte of the second chunk.
        stored[HEADER_LEN as usize + CHUNK_LEN + TAG_LEN + 100] ^= 0x20;
        std::fs::write(&path, &stored).expect("tamper");
        let download = storage
            .download_sealed(&key, None, Sealed { wrapped: &wrapped, size: data.len() as u64 })
            .await
            .expect("starts");
        let parts: Vec<Result<Bytes, StorageError>> = download.stream.collect().await;
        let served: Vec<u8> = parts.iter().filter_map(|p| p.as_ref().ok()).flat_map(|b| b.to_vec()).collect();
        assert_eq!(served, data[..CHUNK_LEN], "the intact first chunk, nothing of the second");
        assert!(matches!(parts.last(), Some(Err(StorageError::Tampered(_)))), "then an error");
    }

    /// Texts stored as plaintext before encryption include empty ones (a scan without words):
    /// they are encrypted like the rest, or they would stay plaintext — and block shredding — for ever.
    #[tokio::test]
    async fn an_existing_empty_object_is_sealed_too() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = storage(dir.path());
        let plain = ObjectKey::from_stored("documents/scan/v1.txt");
        storage.put(&plain, Bytes::new()).await.expect("empty plaintext");
        let sealed = ObjectKey::from_stored("documents/scan/v1.txt.sealed");
        let received = storage.seal_existing(&plain, sealed.clone(), "RS:RS-MUP").await.expect("sealed");
        assert_eq!(received.size(), 0);
        let wrapped = received.sealed().expect("sealed").clone();
        assert_eq!(read(&storage, &sealed, None, &wrapped, 0).await.expect("opens"), b"");
        let stored = std::fs::read(dir.path().join("objects").join(sealed.as_str())).expect("stored");
        assert_eq!(stored.len() as u64, stored_len(0), "a header and one authenticated empty chunk");
    }

    #[tokio::test]
    async fn destroyed_keys_leave_the_object_unreadable() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = storage(dir.path());
        let key = ObjectKey::version(uuid::Uuid::new_v4(), 1);
        let received = upload(&storage, &key, b"Analiza").await;
        let wrapped = received.sealed().expect("sealed").clone();
        let keyring = storage.keyring().expect("keyring").clone();
        keyring.destroy("RS:RS-MUP").expect("destroy");
        let result = storage.download_sealed(&key, None, Sealed { wrapped: &wrapped, size: 7 }).await;
        assert!(matches!(result, Err(StorageError::KeysDestroyed)));
    }
}
