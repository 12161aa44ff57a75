#!/usr/bin/env python3
"""Deterministic generator of a bank's payments file for the cases of gen_cases.py (CSV, JSON or NDJSON).

Usage:
    gen_payments.py N [--format csv|json|ndjson] [--cases-seed 42] [--seed 7] [--start 1]
                      [--full-every 10] > payments.csv

One payment for each of the N cases `gen_cases.py N --seed CASES_SEED --start START` generates, in
case order, with the columns of the payments file: case_id, amount, paid_on, reference, method.
Every FULL_EVERY-th case is paid in full (its whole due amount: the case resolves); the others pay
5-95 % of it, so no payment exceeds a fresh case's balance. paid_on is a day of 2025, never in the
future; references are unique per seed (another seed, another day's file). The same arguments
always give byte-identical output.
"""
import argparse
import csv
import json
import random
import sys
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_cases import rows as case_rows  # the cases these payments pay

COLUMNS = ["case_id", "amount", "paid_on", "reference", "method"]
METHODS = ["transfer", "card", "cash", "cheque", "other"]
FIRST_DAY = date(2025, 1, 1)
CENT = Decimal("0.01")


def rows(n, seed=7, cases_seed=42, start=1, full_every=10):
    """The payments, one per generated case, as dicts of strings."""
    rnd = random.Random(seed)
    for k, case in enumerate(case_rows(n, cases_seed, start)):
        due = Decimal(case["due_amount"])
        amount = due if (k + 1) % full_every == 0 else (due * Decimal(rnd.uniform(0.05, 0.95))).quantize(
            CENT, rounding=ROUND_DOWN)
        yield {
            "case_id": case["case_id"],
            "amount": f"{max(amount, CENT):.2f}",
            "paid_on": (FIRST_DAY + timedelta(days=rnd.randrange(365))).isoformat(),
            "reference": f"{case['bank_code']}-{seed}-{start + k:010d}",  # another seed: another day's file
            "method": rnd.choice(METHODS),
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--format", choices=["csv", "json", "ndjson"], default="csv")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cases-seed", type=int, default=42, help="the --seed given to gen_cases.py")
    ap.add_argument("--start", type=int, default=1, help="the --start given to gen_cases.py")
    ap.add_argument("--full-every", type=int, default=10, help="every k-th case is paid in full")
    a = ap.parse_args()
    out = sys.stdout
    payments = rows(a.n, a.seed, a.cases_seed, a.start, a.full_every)
    if a.format == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(payments)
    elif a.format == "ndjson":
        for payment in payments:
            out.write(json.dumps(payment) + "\n")
    else:
        out.write("[")
        for k, payment in enumerate(payments):
            out.write(("," if k else "") + json.dumps(payment))
        out.write("]\n")


if __name__ == "__main__":
    main()
