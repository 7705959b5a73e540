"""Sentence-to-graph retrieval (the paper's Table 4): captions, preprocess, train, test, ceiling.

    # 1. captions of a synthetic data set (on VG: SGB's vg_capgraphs_anno.json instead)
    python tools/image_retrieval.py captions --data-dir datasets/synthetic_vg_default
    # 2. scene graphs of a test run (predictions.pth of tools/relation_test_net.py, run with
    #    DATASETS.TO_TEST train / val / test) joined with the captions, one file per split
    python tools/image_retrieval.py preprocess --config-file output/motifs_sgdet/config.yaml \\
        --split test --out output/motifs_sgdet/s2g/test.json
    # 3. train (ends with the test) and 4. test again, e.g. with shuffled graphs
    python tools/image_retrieval.py train --config-file configs/retrieval/synthetic_default.yaml \\
        RETRIEVAL.TRAIN_FILES "('.../train.json', '.../val.json')" \\
        RETRIEVAL.TEST_FILE .../test.json OUTPUT_DIR output/s2g/motifs_sgdet
    python tools/image_retrieval.py test --config-file configs/retrieval/synthetic_default.yaml \\
        RETRIEVAL.TEST_FILE .../test.json OUTPUT_DIR output/s2g/motifs_sgdet \\
        RETRIEVAL.TEST.SHUFFLE_GRAPHS True
    # what the captions alone can retrieve (no learning), e.g. on the annotated graphs
    python tools/image_retrieval.py ceiling --file output/s2g/gt/test.json --gallery 1000

See docs/RETRIEVAL.md.
"""

from __future__ import annotations

import argparse
import logging
import sys

from maskrcnn_benchmark.data.datasets.synthetic.caption_file import write_synthetic_captions
from maskrcnn_benchmark.data.datasets.synthetic.captions import CAPTIONS_PER_IMAGE
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.image_retrieval.ceiling import DEFAULT_KS, ceiling_of_file
from maskrcnn_benchmark.image_retrieval.engine import load_and_test, train_retrieval
from maskrcnn_benchmark.image_retrieval.preprocess import (
    SOURCES,
    preprocess_config,
    preprocess_split,
)


def _config_parser(description: str, parents: list | None = None) -> argparse.ArgumentParser:
    parser = default_argument_parser(description)
    for parent in parents or []:
        parent(parser)
    return parser


def _preprocess_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", choices=("train", "val", "test"), required=True,
                        help="which DATASETS.<split> to preprocess")
    parser.add_argument("--source", choices=SOURCES, default="predictions",
                        help="the run's saved predictions (OUTPUT_DIR/inference/<dataset>/"
                             "predictions.pth) or the annotation (the oracle gallery)")
    parser.add_argument("--out", required=True, help="retrieval input file to write (.json)")


def main(argv: list[str] | None = None) -> None:
    """Dispatch the sub-command."""
    commands = {"captions": "write a synthetic data set's caption-graph file",
                "preprocess": "scene graphs of a split + captions -> retrieval input",
                "train": "train the retrieval model, then test it",
                "test": "test a trained retrieval model",
                "ceiling": "what the captions alone retrieve: no-learning score and ceiling"}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False,
                                     usage="%(prog)s {captions,preprocess,train,test,ceiling} "
                                           "[--help] ...")
    parser.add_argument("command", choices=sorted(commands),
                        help="; ".join(f"{k}: {v}" for k, v in commands.items()))
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return
    args, rest = parser.parse_known_args(argv)
    if args.command == "captions":
        sub = argparse.ArgumentParser(description=commands["captions"])
        sub.add_argument("--data-dir", required=True, help="a synthetic data set's folder")
        sub.add_argument("--out", default=None,
                         help="default: <data-dir>/vg_capgraphs_anno.json")
        sub.add_argument("--seed", type=int, default=None,
                         help="caption seed (default: the data set's seed)")
        sub.add_argument("--per-image", type=int, default=CAPTIONS_PER_IMAGE,
                         help="captions per image (COCO has 5)")
        opts = sub.parse_args(rest)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        write_synthetic_captions(opts.data_dir, opts.out, opts.seed, opts.per_image)
    elif args.command == "ceiling":
        sub = argparse.ArgumentParser(description=commands["ceiling"])
        sub.add_argument("--file", required=True, help="retrieval input (preprocess output)")
        sub.add_argument("--gallery", type=int, default=1000,
                         help="gallery size: the first N images with a caption relation")
        sub.add_argument("--ks", type=int, nargs="+", default=list(DEFAULT_KS), help="R@K")
        sub.add_argument("--out", default=None, help="default: <file stem>_ceiling.json")
        opts = sub.parse_args(rest)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        ceiling_of_file(opts.file, opts.gallery, opts.out, opts.ks)
    elif args.command == "preprocess":
        opts = _config_parser(commands["preprocess"], [_preprocess_flags]).parse_args(rest)
        cfg = preprocess_config(opts.config_file, opts.opts)
        preprocess_split(cfg, opts.split, opts.source, opts.out)
    else:
        opts = _config_parser(commands[args.command]).parse_args(rest)
        cfg, device = setup(opts, training=args.command == "train")
        if args.command == "train":
            train_retrieval(cfg, device, resume=not opts.no_resume)
        else:
            load_and_test(cfg, device, use_latest=not opts.no_resume)


if __name__ == "__main__":
    main()
