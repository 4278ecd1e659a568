//! Encryption at rest (issue 21, in progress): the format of encrypted objects ([`envelope`]:
//! chunked AES-256-GCM under a per-object data key) and the wrapping of data keys under an
//! organisation's key-encryption key ([`wrapping`]), kept in a keyring under a master key
//! ([`keyring`]). `storage::sealed` seals and opens objects with them. Still to come: the `keys`
//! commands (rotate, re-wrap, destroy) and the migration of existing objects.

pub mod envelope;
pub mod keyring;
pub mod wrapping;
