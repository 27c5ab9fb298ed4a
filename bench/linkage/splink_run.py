"""Links a file in the cnis linkage layout with Splink 5 (DuckDB backend)
and writes its clusters as source,record_id,cluster.

The model mirrors the cnis one, following Splink's documented practice:
names with term-frequency adjustment, the date-of-birth and postcode
comparisons from Splink's library, u by random sampling, m by EM sessions on
the blocking rules, the prior from a deterministic rule, prediction blocked on
the same rules as cnis, clusters at match probability 0.9.

    python splink_run.py INPUT.csv OUT_CLUSTERS.csv --rules r1,r2,... --u-pairs N [--pairs OUT_PAIRS.csv]
"""
import argparse
import logging
import time

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

RULES = {
    "upn": ("upn",),
    "nhs": ("nhs_number",),
    "dob_surname": ("dob", "surname"),
    "dob_forename": ("dob", "forename"),
    "names_district": ("forename", "surname", "postcode_district"),
    "dob_district": ("dob", "postcode_district"),
    "names": ("forename", "surname"),
    "postcode_surname": ("postcode", "surname"),
    "postcode_forename": ("postcode", "forename"),
}


def load(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["unique_id"] = df["source"] + ":" + df["record_id"]
    for c in ("forename", "surname", "address"):
        if c in df:
            df[c] = df[c].str.upper().str.strip()
    if "postcode" in df:
        df["postcode"] = df["postcode"].str.upper().str.replace(" ", "", regex=False)
        # Outward code: all but the last three characters of a UK postcode.
        df["postcode_district"] = df["postcode"].where(df["postcode"].str.len() >= 5, "").str[:-3]
        # Splink's postcode comparison expects the usual spacing.
        df["postcode"] = df["postcode"].where(
            df["postcode"].str.len() < 5, df["postcode"].str[:-3] + " " + df["postcode"].str[-3:]
        )
    df = df.replace("", None)
    return df


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("out")
    ap.add_argument("--rules", required=True)
    ap.add_argument("--u-pairs", type=float, default=1e7)
    ap.add_argument("--uk-postcodes", action="store_true")
    ap.add_argument("--count-pairs", action="store_true", help="only count the blocked pairs (exact), untimed")
    ap.add_argument("--pairs", help="also write the scored pairs at match probability 0.5 or more")
    a = ap.parse_args()
    logging.getLogger("splink").setLevel(logging.WARNING)
    t0 = time.time()
    df = load(a.input)
    have = lambda c: c in df and df[c].notna().any()
    comparisons = []
    if have("upn"):
        comparisons.append(cl.ExactMatch("upn"))
    comparisons += [
        cl.NameComparison("forename").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True),
    ]
    if have("sex"):
        comparisons.append(cl.ExactMatch("sex"))
    if have("postcode"):
        comparisons.append(cl.PostcodeComparison("postcode") if a.uk_postcodes else cl.ExactMatch("postcode"))
    if have("address"):
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.9]))
    rules = [block_on(*RULES[r]) for r in a.rules.split(",") if all(have(c) for c in RULES[r])]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    if a.count_pairs:
        from splink.blocking_analysis import count_comparisons_from_blocking_rules

        recs = count_comparisons_from_blocking_rules(
            db.register(df), blocking_rules=rules, link_type="dedupe_only", record_sample_proportion=1.0
        )
        print(int(recs[-1]["cumulative_comparison_count"]))
        return
    linker = Linker(db.register(df), settings)
    deterministic = [block_on("upn")] if have("upn") else [block_on("forename", "surname", "dob")]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=a.u_pairs, seed=42)
    for r in rules:
        linker.training.estimate_parameters_using_expectation_maximisation(r)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    if a.pairs:
        p = pred.as_pandas_dataframe()
        left = p["unique_id_l"].str.split(":", n=1, expand=True)
        right = p["unique_id_r"].str.split(":", n=1, expand=True)
        pd.DataFrame({"source_l": left[0], "record_id_l": left[1], "source_r": right[0], "record_id_r": right[1],
                      "match_probability": p["match_probability"]}).to_csv(a.pairs, index=False)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.9).as_pandas_dataframe()
    ids = clusters["unique_id"].str.split(":", n=1, expand=True)
    pd.DataFrame({"source": ids[0], "record_id": ids[1], "cluster": clusters["cluster_id"]}).to_csv(a.out, index=False)
    print(f"splink: {len(df)} records in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
