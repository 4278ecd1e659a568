//! The format of an encrypted stored object (issue 21): a fresh 256-bit data key per object,
//! AES-256-GCM over fixed-size chunks of the plaintext. Each chunk is sealed with its index as
//! the nonce and, as associated data, the object's identity (its key in the store), the index
//! and whether it is the last chunk — so a chunk moved to another object or place, reordered,
//! dropped from the end or altered in one bit fails authentication, and a `Range` request
//! decrypts only the chunks it touches.
//!
//! ```text
//! object  = header chunk*          header = "ANASPOC\x01" (8 bytes) ‖ chunk size (u32, big end)
//! chunk i = AES-256-GCM(data key, nonce = 0u32 ‖ i (u64, big end),
//!                       aad = identity ‖ 0x00 ‖ i (u64) ‖ last (1 byte), plaintext[i]) ‖ tag
//! ```
//!
//! Every chunk but the last holds exactly `chunk size` plaintext bytes; the plaintext size is
//! kept in the database (the size reported, and what says which chunk is the last).

use std::ops::Range;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use bytes::{Bytes, BytesMut};

/// Identifies the format (and its version) at the start of every encrypted object.
pub const MAGIC: &[u8; 8] = b"ANASPOC\x01";
/// Bytes before the first chunk.
pub const HEADER_LEN: u64 = 12;
/// Plaintext bytes per chunk: large enough that the tags cost 0.02%, small enough that a
/// `Range` of a few bytes decrypts 64 KiB.
pub const CHUNK_LEN: usize = 64 * 1024;
/// AES-GCM's authentication tag.
pub const TAG_LEN: usize = 16;
/// A chunk as stored: its ciphertext and tag.
pub const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// A chunk failed authentication: the stored object was altered, truncated, reordered or
    /// belongs elsewhere. Never answered with the bytes.
    #[error("an encrypted chunk failed authentication (chunk {0}): the stored object was tampered with")]
    Tampered(u64),
    #[error("the stored object is not in the encrypted format")]
    NotEncrypted,
    #[error("no randomness from the operating system")]
    Random,
    #[error("the cipher refused a key or a chunk")]
    Cipher,
}

/// A data key: the key of one object. Only [`DataKey::generate`] and the keyring (unwrapping)
/// make one; its bytes leave it only to be wrapped.
pub struct DataKey {
    bytes: [u8; 32],
}

impl DataKey {
    pub fn generate() -> Result<Self, EnvelopeError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| EnvelopeError::Random)?;
        Ok(Self { bytes })
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn sealing_key(&self) -> Result<LessSafeKey, EnvelopeError> {
        Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.bytes).map_err(|_| EnvelopeError::Cipher)?))
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // Not left in freed memory.
        zeroize::Zeroize::zeroize(&mut self.bytes);
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

fn nonce(index: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

fn aad(identity: &str, index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(identity.len() + 10);
    aad.extend_from_slice(identity.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// The header every encrypted object starts with.
pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..].copy_from_slice(&(CHUNK_LEN as u32).to_be_bytes());
    header
}

/// Whether `start` (the first bytes of a stored object) is this format.
pub fn is_encrypted(start: &[u8]) -> bool {
    start.len() >= HEADER_LEN as usize && start[..8] == *MAGIC && start[8..12] == (CHUNK_LEN as u32).to_be_bytes()
}

/// Stored size of an object of `plaintext` bytes.
pub fn stored_len(plaintext: u64) -> u64 {
    HEADER_LEN + plaintext + chunks(plaintext) * TAG_LEN as u64
}

/// Chunks of an object of `plaintext` bytes (an empty object has one, empty).
fn chunks(plaintext: u64) -> u64 {
    plaintext.div_ceil(CHUNK_LEN as u64).max(1)
}

/// Encrypts a stream of plaintext, a piece at a time, into the stored form. The last full
/// chunk is held back until more arrives or [`Sealer::finish`], since only then is it known
/// whether it is the last.
pub struct Sealer {
    key: LessSafeKey,
    identity: String,
    index: u64,
    pending: BytesMut,
    started: bool,
}

impl Sealer {
    pub fn new(key: &DataKey, identity: &str) -> Result<Self, EnvelopeError> {
        Ok(Self {
            key: key.sealing_key()?,
            identity: identity.to_owned(),
            index: 0,
            pending: BytesMut::with_capacity(SEALED_CHUNK_LEN),
            started: false,
        })
    }

    /// Stored bytes ready to be written after `plaintext` (possibly none yet). The plaintext is
    /// copied once, into the chunk sealed in place; a piece that completes one chunk (the usual
    /// case: network reads are smaller than a chunk) gets that chunk back without another copy.
    pub fn update(&mut self, mut plaintext: &[u8]) -> Result<Bytes, EnvelopeError> {
        let mut sealed: Vec<Bytes> = Vec::new();
        if !self.started {
            sealed.push(Bytes::copy_from_slice(&header()));
            self.started = true;
        }
        while !plaintext.is_empty() {
            if self.pending.len() == CHUNK_LEN {
                let chunk = std::mem::replace(&mut self.pending, BytesMut::with_capacity(SEALED_CHUNK_LEN));
                sealed.push(self.seal(chunk, false)?.freeze());
            }
            let take = (CHUNK_LEN - self.pending.len()).min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
        }
        Ok(match sealed.len() {
            0 => Bytes::new(),
            1 => sealed.swap_remove(0),
            _ => sealed.concat().into(),
        })
    }

    /// The rest of the stored bytes: the last chunk.
    pub fn finish(mut self) -> Result<Bytes, EnvelopeError> {
        let mut out = BytesMut::new();
        if !self.started {
            out.extend_from_slice(&header());
        }
        let chunk = self.pending.split();
        out.extend_from_slice(&self.seal(chunk, true)?);
        Ok(out.freeze())
    }

    fn seal(&mut self, mut chunk: BytesMut, last: bool) -> Result<BytesMut, EnvelopeError> {
        let index = self.index;
        self.index += 1;
        let aad = aad(&self.identity, index, last);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(index), Aad::from(aad), &mut chunk)
            .map_err(|_| EnvelopeError::Cipher)?;
        chunk.extend_from_slice(tag.as_ref());
        Ok(chunk)
    }
}

/// Which stored bytes a plaintext range needs, and how to open them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRange {
    /// The stored bytes to fetch.
    pub stored: Range<u64>,
    /// The index of the first chunk fetched.
    pub first_chunk: u64,
    /// Plaintext bytes to drop from the first chunk, and to keep in all.
    pub skip: u64,
    pub take: u64,
}

/// The stored bytes holding plaintext `range` of an object of `size` plaintext bytes.
pub fn stored_range(range: Range<u64>, size: u64) -> StoredRange {
    let sealed = SEALED_CHUNK_LEN as u64;
    let first_chunk = range.start / CHUNK_LEN as u64;
    let last_chunk = range.end.saturating_sub(1).max(range.start) / CHUNK_LEN as u64;
    let last_chunk = last_chunk.min(chunks(size) - 1);
    let start = HEADER_LEN + first_chunk * sealed;
    let end = (HEADER_LEN + (last_chunk + 1) * sealed).min(stored_len(size));
    StoredRange {
        stored: start..end,
        first_chunk,
        skip: range.start - first_chunk * CHUNK_LEN as u64,
        take: range.end - range.start,
    }
}

/// Decrypts the stored bytes of a [`StoredRange`], fed in pieces of any size, into plaintext.
pub struct Opener {
    key: LessSafeKey,
    identity: String,
    index: u64,
    last_index: u64,
    pending: BytesMut,
    skip: u64,
    left: u64,
    /// The chunk that failed, once one has: what came before it was served, nothing after.
    failed_at: Option<u64>,
}

impl Opener {
    /// For the stored bytes `range` selects of an object of `size` plaintext bytes.
    pub fn new(key: &DataKey, identity: &str, range: &StoredRange, size: u64) -> Result<Self, EnvelopeError> {
        Ok(Self {
            key: key.sealing_key()?,
            identity: identity.to_owned(),
            index: range.first_chunk,
            last_index: chunks(size) - 1,
            pending: BytesMut::with_capacity(SEALED_CHUNK_LEN),
            skip: range.skip,
            left: range.take,
            failed_at: None,
        })
    }

    /// Plaintext of every chunk completed by `stored` (possibly none yet), one piece per chunk.
    /// Whole chunks of a read that nothing else holds (a local file read) are decrypted where
    /// they lie, without a copy; only bytes of a chunk split across reads are gathered. When a
    /// chunk fails authentication, the chunks before it in `stored` are still returned, and the
    /// failure is the answer to the next call (`update` or `finish`): a reader gets every intact
    /// byte up to the altered chunk, and none of it.
    pub fn update(&mut self, stored: Bytes) -> Result<Vec<Bytes>, EnvelopeError> {
        if let Some(index) = self.failed_at {
            return Err(EnvelopeError::Tampered(index));
        }
        // Decryption needs the bytes writable: a shared read is copied once, here.
        let mut stored = stored.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let mut opened = Vec::new();
        while !stored.is_empty() {
            let chunk = if self.pending.is_empty() && stored.len() >= SEALED_CHUNK_LEN {
                stored.split_to(SEALED_CHUNK_LEN)
            } else {
                let take = (SEALED_CHUNK_LEN - self.pending.len()).min(stored.len());
                self.pending.extend_from_slice(&stored.split_to(take));
                if self.pending.len() < SEALED_CHUNK_LEN {
                    break;
                }
                std::mem::replace(&mut self.pending, BytesMut::with_capacity(SEALED_CHUNK_LEN))
            };
            match self.open(chunk) {
                Ok(plaintext) if plaintext.is_empty() => {}
                Ok(plaintext) => opened.push(plaintext),
                Err(error) if opened.is_empty() => return Err(error),
                Err(_) => {
                    self.failed_at = Some(self.index);
                    break;
                }
            }
        }
        Ok(opened)
    }

    /// The plaintext of the last, shorter chunk; an error if the stored bytes ended early.
    pub fn finish(mut self) -> Result<Bytes, EnvelopeError> {
        if let Some(index) = self.failed_at {
            return Err(EnvelopeError::Tampered(index));
        }
        if self.left == 0 {
            return Ok(Bytes::new());
        }
        if self.pending.len() < TAG_LEN {
            return Err(EnvelopeError::Tampered(self.index));
        }
        let chunk = self.pending.split();
        let plaintext = self.open(chunk)?;
        if self.left > 0 {
            return Err(EnvelopeError::Tampered(self.index));
        }
        Ok(plaintext)
    }

    fn open(&mut self, mut chunk: BytesMut) -> Result<Bytes, EnvelopeError> {
        let index = self.index;
        let failed = || EnvelopeError::Tampered(index);
        if index > self.last_index {
            return Err(failed());
        }
        let aad = aad(&self.identity, index, index == self.last_index);
        let len = self.key.open_in_place(nonce(index), Aad::from(aad), &mut chunk).map_err(|_| failed())?.len();
        chunk.truncate(len);
        self.index += 1;
        let mut plaintext = chunk.freeze();
        let skip = (self.skip as usize).min(plaintext.len());
        plaintext = plaintext.slice(skip..);
        self.skip -= skip as u64;
        let keep = (self.left as usize).min(plaintext.len());
        self.left -= keep as u64;
        Ok(plaintext.slice(..keep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = "documents/6f1c8a52-0000-4000-8000-000000000001/v1";

    fn plaintext(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// Seal `data` fed in pieces of `piece` bytes.
    fn seal(key: &DataKey, data: &[u8], piece: usize) -> Vec<u8> {
        let mut sealer = Sealer::new(key, IDENTITY).expect("sealer");
        let mut stored = Vec::new();
        for part in data.chunks(piece.max(1)) {
            stored.extend_from_slice(&sealer.update(part).expect("sealed"));
        }
        stored.extend_from_slice(&sealer.finish().expect("sealed"));
        stored
    }

    fn open(
        key: &DataKey,
        identity: &str,
        stored: &[u8],
        range: Range<u64>,
        size: u64,
        piece: usize,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let wanted = stored_range(range, size);
        let bytes = stored
            .get(wanted.stored.start as usize..(wanted.stored.end as usize).min(stored.len()))
            .unwrap_or_default();
        let mut opener = Opener::new(key, identity, &wanted, size)?;
        let mut out = Vec::new();
        for part in bytes.chunks(piece.max(1)) {
            out.extend(opener.update(Bytes::copy_from_slice(part))?.concat());
        }
        out.extend_from_slice(&opener.finish()?);
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_boundary_and_piece_size() {
        let key = DataKey::generate().expect("key");
        for len in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 3 * CHUNK_LEN, 3 * CHUNK_LEN + 17] {
            let data = plaintext(len);
            for piece in [1000, CHUNK_LEN, 3 * CHUNK_LEN + 5] {
                let stored = seal(&key, &data, piece);
                assert_eq!(stored.len() as u64, stored_len(len as u64), "stored size of {len}");
                assert!(is_encrypted(&stored));
                // Stored reads of every kind: small, a chunk each, several chunks at once (opened
                // where they lie), chunks split across reads, the whole object in one.
                for read in [4096, SEALED_CHUNK_LEN, 4 * SEALED_CHUNK_LEN, 3 * SEALED_CHUNK_LEN + 5, usize::MAX] {
                    let all = open(&key, IDENTITY, &stored, 0..len as u64, len as u64, read).expect("opens");
                    assert_eq!(all, data, "{len} bytes sealed in pieces of {piece}, read {read} at a time");
                }
            }
        }
    }

    #[test]
    fn ranges_decrypt_only_their_chunks() {
        let key = DataKey::generate().expect("key");
        let len = 3 * CHUNK_LEN + 100;
        let data = plaintext(len);
        let stored = seal(&key, &data, 10_000);
        let c = CHUNK_LEN as u64;
        for range in [0..1, c - 1..c + 1, c..2 * c, 2 * c + 5..3 * c + 100, 3 * c + 99..3 * c + 100, 17..3 * c + 50] {
            let wanted = stored_range(range.clone(), len as u64);
            let chunks_fetched = (wanted.stored.end - wanted.stored.start).div_ceil((CHUNK_LEN + TAG_LEN) as u64);
            assert!(chunks_fetched <= (range.end - range.start).div_ceil(c) + 1, "{range:?}: only its chunks");
            let got = open(&key, IDENTITY, &stored, range.clone(), len as u64, 777).expect("opens");
            assert_eq!(got, data[range.start as usize..range.end as usize], "{range:?}");
        }
    }

    #[test]
    fn any_tampering_fails_instead_of_returning_bytes() {
        let key = DataKey::generate().expect("key");
        let len = 2 * CHUNK_LEN + 10;
        let data = plaintext(len);
        let stored = seal(&key, &data, CHUNK_LEN);
        let size = len as u64;
        let whole = 0..size;
        // One flipped bit anywhere after the header.
        for at in [HEADER_LEN as usize, CHUNK_LEN, CHUNK_LEN + TAG_LEN + 5, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 1;
            assert!(
                matches!(open(&key, IDENTITY, &bad, whole.clone(), size, 4096), Err(EnvelopeError::Tampered(_))),
                "bit at {at}"
            );
        }
        // Truncated by the last chunk, or by a byte.
        let sealed = CHUNK_LEN + TAG_LEN;
        let truncated = &stored[..HEADER_LEN as usize + 2 * sealed];
        assert!(open(&key, IDENTITY, truncated, whole.clone(), size, 4096).is_err(), "last chunk dropped");
        assert!(open(&key, IDENTITY, &stored[..stored.len() - 1], whole.clone(), size, 4096).is_err());
        // Two chunks swapped.
        let mut swapped = stored[..HEADER_LEN as usize].to_vec();
        swapped.extend_from_slice(&stored[HEADER_LEN as usize + sealed..HEADER_LEN as usize + 2 * sealed]);
        swapped.extend_from_slice(&stored[HEADER_LEN as usize..HEADER_LEN as usize + sealed]);
        swapped.extend_from_slice(&stored[HEADER_LEN as usize + 2 * sealed..]);
        assert!(open(&key, IDENTITY, &swapped, whole.clone(), size, 4096).is_err(), "reordered");
        // Another object's identity, another key.
        assert!(open(&key, "documents/other/v1", &stored, whole.clone(), size, 4096).is_err(), "moved");
        let other = DataKey::generate().expect("key");
        assert!(open(&other, IDENTITY, &stored, whole.clone(), size, 4096).is_err(), "wrong key");
        // A whole object presented as shorter: its "last" chunk is not the last.
        assert!(open(&key, IDENTITY, &stored, 0..CHUNK_LEN as u64, CHUNK_LEN as u64, 4096).is_err(), "size lied");
    }

    #[test]
    fn a_stored_read_held_elsewhere_is_opened_from_a_copy() {
        let key = DataKey::generate().expect("key");
        let data = plaintext(2 * CHUNK_LEN + 3);
        let stored = Bytes::from(seal(&key, &data, CHUNK_LEN));
        let size = data.len() as u64;
        let wanted = stored_range(0..size, size);
        let held = stored.slice(wanted.stored.start as usize..);
        let mut opener = Opener::new(&key, IDENTITY, &wanted, size).expect("opener");
        let mut out = opener.update(held.clone()).expect("opens").concat();
        out.extend_from_slice(&opener.finish().expect("opens"));
        assert_eq!(out, data);
        assert_eq!(held, stored[wanted.stored.start as usize..], "the other holder's bytes are untouched");
    }

    #[test]
    fn a_tampered_chunk_in_one_read_ends_after_the_intact_ones() {
        let key = DataKey::generate().expect("key");
        let data = plaintext(3 * CHUNK_LEN);
        let mut stored = seal(&key, &data, CHUNK_LEN);
        stored[HEADER_LEN as usize + SEALED_CHUNK_LEN + 7] ^= 1;
        let size = data.len() as u64;
        let wanted = stored_range(0..size, size);
        let mut opener = Opener::new(&key, IDENTITY, &wanted, size).expect("opener");
        let read = Bytes::from(stored[HEADER_LEN as usize..].to_vec());
        let served = opener.update(read).expect("the first chunk is intact").concat();
        assert_eq!(served, data[..CHUNK_LEN], "only the chunk before the altered one");
        assert_eq!(opener.finish(), Err(EnvelopeError::Tampered(1)));
    }

    #[test]
    fn the_stored_bytes_hold_no_plaintext() {
        let key = DataKey::generate().expect("key");
        let data = b"Strateska analiza: kokain kroz luku Bar, operacija ADRIATIK. ".repeat(2000);
        let stored = seal(&key, &data, 5000);
        assert!(!stored.windows(8).any(|w| w == b"ADRIATIK"), "no plaintext substring");
        assert!(!is_encrypted(&data));
    }
}
