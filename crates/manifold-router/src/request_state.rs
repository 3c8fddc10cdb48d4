//! The `requestState` Manifold mints for a call it parked (2026-07-28 MRTR, mcp-spec.md §4.7):
//! which parked call, whose, and until when, sealed with AES-256-GCM under a key of the process
//! (generated at start), so a client can neither read nor forge nor extend one. The text is
//! `mf1.` and the base64url of nonce ‖ ciphertext ‖ tag.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// What every state Manifold mints starts with.
pub(crate) const PREFIX: &str = "mf1.";
/// Binds the ciphertext to its use: a key used for anything else would not open it.
const AAD: &[u8] = b"manifold/requestState/v1";

/// What a `requestState` says once opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The parked call.
    #[serde(rename = "h")]
    pub(crate) handle: u64,
    /// The principal it belongs to.
    #[serde(rename = "p")]
    pub(crate) principal: String,
    /// When it expires, in milliseconds since the Unix epoch.
    #[serde(rename = "e")]
    pub(crate) expires_ms: u64,
}

/// Seals and opens request states with the process's key.
pub(crate) struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    /// A sealer with a fresh random key.
    pub(crate) fn generate() -> Sealer {
        let rng = SystemRandom::new();
        let mut bytes = [0u8; 32];
        // The OS generator does not fail on Linux; a zero key would still be unique per use of
        // its nonce, and this is logged.
        if rng.fill(&mut bytes).is_err() {
            tracing::error!("no randomness for the requestState key");
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map(LessSafeKey::new)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is an AES-256 key"));
        Sealer { key, rng }
    }

    /// `state`, sealed.
    pub(crate) fn seal(&self, state: &State) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut sealed = serde_json::to_vec(state).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut sealed,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The state `text` seals, if it is one this key sealed and it is intact.
    pub(crate) fn open(&self, text: &str) -> Option<State> {
        let bytes = URL_SAFE_NO_PAD.decode(text.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut sealed)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            handle: 7,
            principal: "alice".into(),
            expires_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_sealed_state_opens_to_itself_and_says_nothing_readable() {
        let sealer = Sealer::generate();
        let text = sealer.seal(&state()).unwrap();
        assert!(text.starts_with("mf1."), "{text}");
        assert!(!text.contains("alice"));
        assert_eq!(sealer.open(&text), Some(state()));
        // Two seals of one state differ (a fresh nonce each).
        assert_ne!(sealer.seal(&state()).unwrap(), text);
    }

    #[test]
    fn a_tampered_or_foreign_state_does_not_open() {
        let sealer = Sealer::generate();
        let text = sealer.seal(&state()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&text[4..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("mf1.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(sealer.open(&tampered), None);
        assert_eq!(Sealer::generate().open(&text), None, "another key");
        assert_eq!(sealer.open("mf1."), None);
        assert_eq!(sealer.open("not a state"), None);
    }
}
