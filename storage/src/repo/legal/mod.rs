//! Legal disclosure (C12): the exports a legal officer asks for ([`exports`]: their rows,
//! their sealed bundles, their expiry) and the reads that fill a bundle ([`reads`]: what an
//! export's scope covers, opened with the export's proof).

pub mod exports;
pub mod reads;
