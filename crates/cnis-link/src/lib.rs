//! Probabilistic record linkage: one child, one id, across every data set.
//!
//! The model is Fellegi-Sunter. Each pair of records is compared field by
//! field ([`compare`]): UPN, NHS number, forename, surname, date of birth,
//! sex, postcode, address, each with graded levels (exact, swapped, fuzzy
//! bands, partial dates, postcode sector/district/area). Pairs are found by
//! [`blocking`] rules, unioned so that no pair is scored twice. Training
//! ([`model::train`]) estimates u from random pairs and m by EM over the
//! blocked pairs, with no labels; exact agreement on names and postcodes is
//! weighted by how common the value is. Scored pairs are clustered into
//! children ([`cluster`]), refusing chains that would merge two records of
//! one source with different UPNs. [`evaluate`] measures the result against
//! known answers.
//!
//! Records are first turned into integer columns ([`prepare::Prepared`]) so
//! comparing is cheap; scoring runs on all cores with rayon. This crate does
//! no I/O.

pub mod blocking;
pub mod chart;
pub mod cluster;
pub mod compare;
pub mod evaluate;
pub mod ids;
pub mod model;
pub mod plan;
pub mod prepare;
pub mod strings;

pub use blocking::{Blocks, Rule};
pub use cluster::{Clustering, Decisions, cluster, cluster_with};
pub use evaluate::{Accuracy, evaluate};
pub use model::{Model, ScoredPair, Scorer, TrainConfig, predict, predict_new, train, train_and_predict};
pub use prepare::Prepared;

/// Why linkage could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Fewer than two records.
    #[error("linkage needs at least two records, got {0}")]
    TooFewRecords(usize),
    /// No blocking rule found a pair, so there is nothing to train on.
    #[error("the blocking rules found no pairs to compare; are the inputs mapped to the right columns?")]
    NoBlockedPairs,
    /// A blocking rule would generate too many pairs.
    #[error(
        "blocking rule `{rule}` would compare {pairs} pairs, more than the limit of {limit}; add a stricter rule or raise --max-pairs"
    )]
    TooManyPairs {
        /// The rule.
        rule: String,
        /// Pairs it generates.
        pairs: u64,
        /// The limit.
        limit: u64,
    },
    /// The model file does not fit this version's comparisons.
    #[error("the model's comparisons do not match this version of cnis; train it again")]
    ModelShape,
}
