"""Predict scene graphs of your own images with a trained model (SGB's output files).

    python tools/predict.py --config-file configs/quickstart/motifs_sgdet.yaml \\
        --weights output/quickstart/motifs_sgdet/model_final.pth \\
        --input my_photos/ --output my_graphs/
    python tools/predict.py --config-file configs/quickstart/motifs_predcls.yaml \\
        --weights model_final.pth --input 'shots/*.jpg' --boxes boxes.json --output out/

--input takes image files, folders, glob patterns or a JSON list of paths (several allowed).
SGDet configs detect the objects; PredCls / SGCls configs score the boxes of --boxes (a JSON
file: image file name -> [{"box": [x1, y1, x2, y2], "label": "man"}, ...]). The output folder
gets custom_prediction.json and custom_data_info.json in Scene-Graph-Benchmark's format, boxes
in upright image pixels (--box-frame input: SGB's network-input frame), and predict_log.txt;
--visualize N draws the first N scene graphs into OUTPUT/pictures/.
Trailing KEY VALUE pairs override the config. See docs/CUSTOM_IMAGES.md.
"""

import argparse
import sys

from maskrcnn_benchmark.config import ConfigKeyError
from maskrcnn_benchmark.engine.predict import predict_main, split_config_overrides


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--config-file", required=True, metavar="FILE",
                        help="the relation YAML the model was trained with")
    parser.add_argument("--weights", default=None, metavar="CKPT",
                        help="checkpoint (default: OUTPUT_DIR/last_checkpoint, else MODEL.WEIGHT)")
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="image file(s), folder(s), glob pattern(s) or a JSON list of paths")
    parser.add_argument("--output", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--boxes", default=None, metavar="JSON",
                        help="your boxes (and labels) for PredCls / SGCls models")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="images per batch (default: TEST.IMS_PER_BATCH)")
    parser.add_argument("--device", default=None, choices=["cpu", "cuda"],
                        help="default: MODEL.DEVICE")
    parser.add_argument("--box-frame", default="image", choices=["image", "input"],
                        help="boxes in upright image pixels (default) or SGB's network-input "
                             "pixels")
    parser.add_argument("--visualize", type=int, default=0, metavar="N",
                        help="also draw the first N images' scene graphs (boxes, top-K "
                             "triplets, graph diagram) into OUTPUT/pictures/")
    parser.add_argument("--top-k", type=int, default=20, metavar="K",
                        help="triplets per picture with --visualize (default 20)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("opts", nargs="*", default=[], help="config overrides as KEY VALUE pairs")
    return parser


def main() -> None:
    args = _parser().parse_intermixed_args()
    inputs, moved = split_config_overrides(args.input)
    try:
        predict_main(args.config_file, inputs, args.output, weights=args.weights,
                     boxes_path=args.boxes, batch_size=args.batch_size, device=args.device,
                     box_frame=args.box_frame, opts=[*moved, *args.opts],
                     progress=not args.no_progress, pictures=args.visualize,
                     top_k=args.top_k)
    except (FileNotFoundError, ValueError, ConfigKeyError) as err:
        sys.exit(f"predict.py: error: {err}")


if __name__ == "__main__":
    main()
