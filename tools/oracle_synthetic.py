"""Oracle check of a generated synthetic VG150 data set (see docs/SYNTHETIC.md).

    python tools/oracle_synthetic.py --data-dir datasets/synthetic_vg

Trains per-pair predicate classifiers on ground-truth boxes and classes (no pixels), decodes
the test split independently and under the scene rules, prints the table and writes it into
the data set's README.md.
"""

from __future__ import annotations

import argparse
import logging

import torch

from maskrcnn_benchmark.data.datasets.synthetic.card import update_oracle_section
from maskrcnn_benchmark.data.datasets.synthetic.oracle import oracle_section, run_oracle
from maskrcnn_benchmark.data.datasets.synthetic.vg_read import read_vg_records, read_vocabulary


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the oracle and update the dataset card."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="datasets/synthetic_vg", help="generated folder")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-card", action="store_true", help="do not update README.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    torch.set_num_threads(args.threads)
    classes, predicates = read_vocabulary(args.data_dir)
    report = run_oracle(read_vg_records(args.data_dir), classes, predicates, args.epochs,
                        args.seed)
    command = (f"python tools/oracle_synthetic.py --data-dir {args.data_dir} "
               f"--epochs {args.epochs} --seed {args.seed}")
    text = oracle_section(report, command)
    print(text)
    if not args.no_card:
        print(f"updated {update_oracle_section(args.data_dir, text)}")


if __name__ == "__main__":
    main()
