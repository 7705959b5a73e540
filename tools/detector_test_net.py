"""Evaluate a trained detector: COCO-style mAP and mAP@0.5 on DATASETS.TEST (or VAL).

    python tools/detector_test_net.py --config-file configs/detector/vg150_X_101_32_8_FPN.yaml \
        MODEL.WEIGHT checkpoints/vg_faster_det/model_final.pth

Weights come from OUTPUT_DIR/last_checkpoint when it exists (SGB's rule), else MODEL.WEIGHT.
DATASETS.TO_TEST picks the split ("test" or "val"). Results go to
OUTPUT_DIR/inference/<dataset>/ (predictions.pth, detection_results.json).
"""

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.engine.detector_inference import detector_inference
from maskrcnn_benchmark.engine.inference import inference_output_folder
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.comm import is_distributed


def main() -> None:
    args = default_argument_parser(__doc__.splitlines()[0]).parse_args()
    cfg, device = setup(args, training=False)
    if cfg.MODEL.RELATION_ON:
        raise SystemExit("The detector test needs MODEL.RELATION_ON False (add it to the "
                         "command line); scene graphs are evaluated by tools/relation_test_net.py")
    split = cfg.DATASETS.TO_TEST
    if split not in ("test", "val"):
        raise SystemExit(f"DATASETS.TO_TEST must be 'test' or 'val' here, got {split!r}")
    model = build_detection_model(cfg).to(device)
    checkpointer = Checkpointer(model, save_dir=cfg.OUTPUT_DIR)
    if not checkpointer.has_checkpoint() and not cfg.MODEL.WEIGHT:
        raise SystemExit("No weights: set MODEL.WEIGHT to a detector checkpoint or OUTPUT_DIR "
                         "to a training folder holding last_checkpoint")
    checkpointer.load(cfg.MODEL.WEIGHT or None, use_latest=not args.no_resume, strict=True)
    names = cfg.DATASETS.TEST if split == "test" else cfg.DATASETS.VAL
    for loader, name in zip(make_data_loader(cfg, split, is_distributed()), names):
        detector_inference(cfg, model, loader, name, inference_output_folder(cfg, name))


if __name__ == "__main__":
    main()
