//! The member card in the phone's wallet: what an Apple Wallet pass of a member holds
//! (`apple`), the shop's look on it as its admin sets it (`look`), the till's one-time
//! link to it (`links`). The signing and the
//! `.pkpass` archive are `loyalty_identity::wallet`'s, where the crypto crates are; this
//! module holds only the pass's content and its rules.

pub mod apple;
pub mod google;
pub mod links;
pub mod look;
pub mod push;
pub mod updates;
