//! Authentication pieces that are not plain token lookups (those live in the store).

pub mod jwt;
pub mod password;
