//! The `requestState` Manifold mints (2026-07-28 MRTR, mcp-spec.md §4.7) — for a call it parked
//! (which one), or around a modern upstream's own (which upstream, and its state as it sent
//! it) — whose it is and until when, sealed with AES-256-GCM, so a client can neither read nor
//! forge nor extend one. The keys come from `gateway.request_state_keys` (the first
//! seals, each opens: rotation without invalidating what the old key sealed) or, without them,
//! one generated at start. The text is `mf1.` and the base64url of nonce ‖ ciphertext ‖ tag.

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
    /// What the retry resumes.
    #[serde(rename = "k")]
    pub(crate) of: Resumes,
    /// The principal it belongs to.
    #[serde(rename = "p")]
    pub(crate) principal: String,
    /// When it expires, in milliseconds since the Unix epoch.
    #[serde(rename = "e")]
    pub(crate) expires_ms: u64,
}

/// What a retry carrying a state resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Resumes {
    /// A call parked in this gateway, by its handle.
    #[serde(rename = "h")]
    Parked(u64),
    /// A modern upstream's input round: the retry goes back to that server with its state.
    #[serde(rename = "u")]
    Upstream {
        /// The server's alias.
        #[serde(rename = "s")]
        server: String,
        /// Its `requestState`, the JSON text exactly as it sent it.
        #[serde(rename = "r")]
        state: String,
    },
}

/// Seals and opens request states with the process's keys.
pub(crate) struct Sealer {
    /// The first seals; every one opens.
    keys: Vec<LessSafeKey>,
    rng: SystemRandom,
}

fn aes_key(bytes: &[u8; 32]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .ok()
        .map(LessSafeKey::new)
}

impl Sealer {
    /// A sealer with the configured keys, or with a fresh random one when there are none.
    pub(crate) fn new(configured: &[manifold_config::SecretKey]) -> Sealer {
        let rng = SystemRandom::new();
        let mut keys: Vec<LessSafeKey> = configured
            .iter()
            .filter_map(|k| aes_key(k.bytes()))
            .collect();
        if keys.is_empty() {
            let mut bytes = [0u8; 32];
            if rng.fill(&mut bytes).is_err() {
                tracing::error!("no randomness for the requestState key");
            }
            keys.extend(aes_key(&bytes));
        }
        Sealer { keys, rng }
    }

    /// A sealer with a fresh random key.
    #[cfg(test)]
    pub(crate) fn generate() -> Sealer {
        Sealer::new(&[])
    }

    /// `state`, sealed.
    pub(crate) fn seal(&self, state: &State) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut sealed = serde_json::to_vec(state).ok()?;
        self.keys
            .first()?
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
        self.keys.iter().find_map(|key| {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut sealed = sealed.to_vec();
            let plain = key.open_in_place(nonce, Aad::from(AAD), &mut sealed).ok()?;
            serde_json::from_slice(plain).ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            of: Resumes::Parked(7),
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
    fn an_upstreams_state_is_kept_as_its_text() {
        let sealer = Sealer::generate();
        let wrapped = State {
            of: Resumes::Upstream {
                server: "docs".into(),
                state: r#""a\u0062c""#.into(),
            },
            ..state()
        };
        let text = sealer.seal(&wrapped).unwrap();
        assert!(!text.contains("docs"));
        assert_eq!(sealer.open(&text), Some(wrapped));
    }

    #[test]
    fn a_rotated_keyring_still_opens_what_the_old_key_sealed() {
        let old = manifold_config::SecretKey::from_bytes([1; 32]);
        let new = manifold_config::SecretKey::from_bytes([2; 32]);
        let before = Sealer::new(std::slice::from_ref(&old));
        let sealed = before.seal(&state()).unwrap();
        let rotated = Sealer::new(&[new.clone(), old]);
        assert_eq!(
            rotated.open(&sealed),
            Some(state()),
            "the old key still opens"
        );
        let resealed = rotated.seal(&state()).unwrap();
        assert_eq!(
            Sealer::new(&[new]).open(&resealed),
            Some(state()),
            "the new key seals"
        );
        assert_eq!(
            before.open(&resealed),
            None,
            "the old key alone does not open the new"
        );
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
