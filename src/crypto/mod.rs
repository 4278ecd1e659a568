//! Encryption at rest (issue 21, in progress): the format of encrypted objects ([`envelope`]:
//! chunked AES-256-GCM under a per-object data key) and the wrapping of data keys under an
//! organisation's key-encryption key ([`wrapping`]). Not yet wired into storage: the keyring,
//! the storage decorator, crypto-shredding and the migration of existing objects come next.

pub mod envelope;
pub mod wrapping;
