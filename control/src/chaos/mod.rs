//! The chaos features: the responder's faults per port and URI pattern
//! ([`faults`]), toxics on proxied bytes ([`toxics`]), and raw TCP
//! listeners with their modes and toxic proxying ([`tcp`]).

pub mod faults;
pub mod tcp;
pub mod toxics;
