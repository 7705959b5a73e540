"""Convert GQA scene graphs into the VG150 files (then use the dataset names GQA_{split}).

Example:
  PYTHONPATH=$PWD python tools/convert_gqa.py --scene-graphs sceneGraphs/train_sceneGraphs.json \
      sceneGraphs/val_sceneGraphs.json --images /data/gqa/images --out datasets/gqa --preset paper
"""

import argparse
import logging

from maskrcnn_benchmark.data.datasets.gqa_convert import GQA_PRESETS, convert_gqa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene-graphs", nargs="+", required=True,
                        help="official GQA train_sceneGraphs.json / val_sceneGraphs.json")
    parser.add_argument("--images", default=None, help="GQA image folder (linked as VG_100K)")
    parser.add_argument("--out", default="datasets/gqa", help="output folder")
    parser.add_argument("--preset", choices=sorted(GQA_PRESETS), default="paper")
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = convert_gqa(args.scene_graphs, args.out, preset=args.preset, image_dir=args.images,
                          train_fraction=args.train_fraction, seed=args.seed)
    summary.pop("paths")
    print(summary)


if __name__ == "__main__":
    main()
