"""Convert your own scene graphs (the minimal JSON format of docs/DATA.md) into VG150 files.

Example (then use the dataset names mydata_train / mydata_val / mydata_test):
  PYTHONPATH=$PWD python tools/convert_scene_graphs.py --input my_graphs.json \
      --images /data/my_images --out datasets/mydata
"""

import argparse
import logging

from maskrcnn_benchmark.data.datasets.custom_convert import convert_custom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="scene-graph JSON (docs/DATA.md)")
    parser.add_argument("--images", default=None, help="image folder (linked as VG_100K)")
    parser.add_argument("--out", required=True, help="output folder, e.g. datasets/mydata")
    parser.add_argument("--num-objects", type=int, default=None,
                        help="keep only the N most frequent object names")
    parser.add_argument("--num-predicates", type=int, default=None,
                        help="keep only the N most frequent predicates")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = convert_custom(args.input, args.out, image_dir=args.images,
                             num_objects=args.num_objects, num_predicates=args.num_predicates)
    summary.pop("paths")
    print(summary)


if __name__ == "__main__":
    main()
