//! The member card in the phone's wallet: what an Apple Wallet pass of a member holds
//! (`apple`). The signing and the `.pkpass` archive are `loyalty_identity::wallet`'s, where
//! the crypto crates are; this module holds only the pass's content and its rules.

pub mod apple;
pub mod google;
pub mod push;
pub mod updates;
