//! Access policy: pure, no I/O. Markings types and the decisions built on them live here and
//! nowhere else (DESIGN.md, "Markings and access").

mod classification;

pub use classification::{Ladder, Level};
