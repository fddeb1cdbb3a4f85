//! Signing of the member card for the phone's wallet. `apple`: the `.pkpass` archive
//! (manifest of SHA-1 hashes, CMS detached signature with the operator's Pass Type ID
//! certificate and Apple's WWDR intermediate). The pass's content is
//! `loyalty_core::service::wallet`'s.

pub mod apple;
pub mod google;
