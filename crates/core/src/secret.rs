//! Generation and hashing of one-time secrets: password-set tokens, generated passwords
//! and API tokens. Only hashes are ever stored.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// A random URL-safe token with 256 bits of entropy, hex encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    hex::encode(bytes)
}

/// A strong generated password: 20 characters of letters and digits (about 119 bits),
/// grouped in fours with hyphens so it can be read out and typed without mistakes.
pub fn generate_password() -> String {
    let raw: Vec<char> = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    raw.chunks(4)
        .map(|chunk| chunk.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// SHA-256 of a high-entropy token, hex encoded. Tokens are random, so a fast hash is
/// the right tool here (unlike passwords, which use argon2id).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_grouped_and_different() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), 24);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_hash_stably_and_never_equal_their_hash() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), t);
    }
}
