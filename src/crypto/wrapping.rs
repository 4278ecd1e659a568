//! Wrapping a data key under a key-encryption key (KEK) of an organisation: AES-256-GCM with a
//! random nonce, the organisation and the KEK's version bound in as associated data — a wrapped
//! key copied to another organisation's document, or presented as another version, does not
//! open. What is stored: `nonce (12) ‖ encrypted data key (32) ‖ tag (16)`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

use super::envelope::{DataKey, EnvelopeError};

/// Length of a wrapped data key.
pub const WRAPPED_LEN: usize = 12 + 32 + 16;

/// A key-encryption key: one version of one organisation's key.
pub struct Kek {
    key: LessSafeKey,
    /// `country:organisation`, as the policy names an organisation.
    organisation: String,
    version: u32,
}

impl Kek {
    pub fn new(bytes: &[u8; 32], organisation: &str, version: u32) -> Result<Self, EnvelopeError> {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| EnvelopeError::Cipher)?);
        Ok(Self { key, organisation: organisation.to_owned(), version })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    fn aad(&self) -> Vec<u8> {
        let mut aad = b"anaspoc data key\0".to_vec();
        aad.extend_from_slice(self.organisation.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad
    }

    pub fn wrap(&self, data_key: &DataKey) -> Result<Vec<u8>, EnvelopeError> {
        let mut nonce = [0u8; 12];
        SystemRandom::new().fill(&mut nonce).map_err(|_| EnvelopeError::Random)?;
        let mut sealed = data_key.expose().to_vec();
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(self.aad()), &mut sealed)
            .map_err(|_| EnvelopeError::Cipher)?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        wrapped.extend_from_slice(tag.as_ref());
        Ok(wrapped)
    }

    /// The data key `wrapped` holds, if this KEK wrapped it.
    pub fn unwrap(&self, wrapped: &[u8]) -> Result<DataKey, EnvelopeError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(EnvelopeError::Tampered(0));
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&wrapped[..12]);
        let mut sealed = wrapped[12..].to_vec();
        let opened = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(self.aad()), &mut sealed)
            .map_err(|_| EnvelopeError::Tampered(0))?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(opened);
        let key = DataKey::from_bytes(bytes);
        // No copy of the key left behind in freed memory.
        bytes.zeroize();
        sealed.zeroize();
        Ok(key)
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({} v{})", self.organisation, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::envelope::{Opener, Sealer, stored_range};

    #[test]
    fn a_wrapped_key_opens_only_under_its_kek_organisation_and_version() {
        let secret = [7u8; 32];
        let kek = Kek::new(&secret, "RS:RS-MUP", 1).expect("kek");
        let data_key = DataKey::generate().expect("data key");
        let wrapped = kek.wrap(&data_key).expect("wrap");
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_ne!(kek.wrap(&data_key).expect("wrap"), wrapped, "a fresh nonce each time");

        // What was sealed with the data key opens with the unwrapped one.
        let mut sealer = Sealer::new(&data_key, "documents/x/v1").expect("sealer");
        let mut stored = sealer.update(b"Analiza").expect("seal").to_vec();
        stored.extend_from_slice(&sealer.finish().expect("seal"));
        let unwrapped = kek.unwrap(&wrapped).expect("unwrap");
        let range = stored_range(0..7, 7);
        let mut opener = Opener::new(&unwrapped, "documents/x/v1", &range, 7).expect("opener");
        let mut plain = opener
            .update(bytes::Bytes::copy_from_slice(&stored[range.stored.start as usize..]))
            .expect("open")
            .concat();
        plain.extend_from_slice(&opener.finish().expect("open"));
        assert_eq!(plain, b"Analiza");

        for (other, why) in [
            (Kek::new(&[8u8; 32], "RS:RS-MUP", 1).expect("kek"), "another key"),
            (Kek::new(&secret, "AL:AL-ASP", 1).expect("kek"), "another organisation"),
            (Kek::new(&secret, "RS:RS-MUP", 2).expect("kek"), "another version"),
        ] {
            assert!(other.unwrap(&wrapped).is_err(), "{why}");
        }
        let mut tampered = wrapped.clone();
        tampered[20] ^= 1;
        assert!(kek.unwrap(&tampered).is_err(), "a flipped bit");
        assert!(kek.unwrap(&wrapped[..40]).is_err(), "cut short");
    }
}
