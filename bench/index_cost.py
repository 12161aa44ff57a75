"""What the list indexes cost writes: bench/ingest.py or bench/assign.py at schema 0005 or head.

    python -m bench.index_cost ingest|assign [--revision 0005|head] [the script's own arguments]

Runs the script unchanged, except that its database is `bench_lists_<script>_<revision>` and is
migrated to `--revision` only: run it at 0007 (before migration 0008) and at head, one after the
other on the same machine, and compare the two (docs/cases.md, *What the indexes cost*).
"""
from __future__ import annotations

import argparse
import importlib
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", choices=("ingest", "assign"))
    parser.add_argument("--revision", default="head")
    args, rest = parser.parse_known_args()
    import store.migrate

    name = f"bench_lists_{args.script}_{args.revision}"
    upgrade = store.migrate.upgrade
    store.migrate.upgrade = lambda url, revision="head": upgrade(url, args.revision if revision == "head" else revision)
    module = importlib.import_module(f"bench.{args.script}")
    module.DATABASE = name  # bench/assign.py reads it when it creates its database
    if hasattr(module, "fresh_database"):  # bench/ingest.py takes it as a default argument
        fresh = module.fresh_database
        module.fresh_database = lambda server_url, _name=None: fresh(server_url, name)
    sys.argv = [f"bench.{args.script}", *rest]
    module.main()


if __name__ == "__main__":
    main()
