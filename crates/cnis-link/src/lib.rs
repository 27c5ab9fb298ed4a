//! Probabilistic record linkage: one child, one id, across every data set.
//!
//! The model is Fellegi-Sunter. Each pair of records is compared field by
//! field ([`compare`]): UPN (and a UPN as written where it failed its
//! check), NHS number, a case id, forename, middle names, surname, date of
//! birth, sex, and place (postcode and address as one comparison, so a home
//! is counted once), each with graded levels. Pairs are found by
//! [`blocking`] rules, chosen from what the data has, unioned so that no
//! pair is scored twice; two records of a source that lists each child once
//! (a census; both files of a link-only job) are never compared. Each rule
//! has its own model ([`model`]): the share of matches among its pairs and
//! the evidence of the fields it leaves free, so that what families share
//! (twins: surname, home and date of birth) is not counted as coincidence.
//! Training ([`model::train`]) estimates u from random pairs and each
//! rule's model by EM over its pairs, with no labels; exact agreement on
//! names and postcodes is weighted by how common the value is. Scored pairs
//! are clustered into children ([`cluster`]), never putting two records of
//! a source that lists each child once into one child. [`evaluate`]
//! measures the result against known answers, pair by pair and cluster by
//! cluster.
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
pub use evaluate::{Accuracy, Evaluation, evaluate};
pub use model::{
    Model, ScoredPair, Scorer, Scoring, TrainConfig, predict, predict_new, predict_with, train, train_and_predict,
};
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
    /// Scoring kept more pairs than allowed.
    #[error(
        "more than {limit} pairs scored at or above match probability {min_probability}; stopped before they fill memory and disk: add stricter blocking rules, raise the threshold or raise --max-kept-pairs"
    )]
    TooManyKept {
        /// The limit.
        limit: u64,
        /// The probability from which pairs were kept.
        min_probability: f64,
    },
    /// Two records share a (source, record id).
    #[error("two records have source {source_name:?} and record id {record_id:?}; each record needs its own")]
    DuplicateRecord {
        /// The source.
        source_name: String,
        /// The record id.
        record_id: String,
    },
    /// A model does not fit this version, or holds impossible values.
    #[error("not a usable model: {0}")]
    InvalidModel(String),
}
