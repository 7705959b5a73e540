"""Train the detector (Faster R-CNN) on its own, as SGB's tools/detector_pretrain_net.py.

    python tools/detector_pretrain_net.py --config-file configs/detector/synthetic_R18_FPN.yaml
    torchrun --nproc_per_node=4 tools/detector_pretrain_net.py \
        --config-file configs/detector/vg150_X_101_32_8_FPN.yaml OUTPUT_DIR output/detector

SGD with SGB's learning-rate rules and the SOLVER schedule; checkpoints every
SOLVER.CHECKPOINT_PERIOD in OUTPUT_DIR (a rerun resumes from OUTPUT_DIR/last_checkpoint unless
--no-resume); validation mAP@0.5 every SOLVER.VAL_PERIOD on DATASETS.VAL; final test on
DATASETS.TEST unless --skip-test. MODEL.WEIGHT initialises a fresh run (e.g. ImageNet backbone
weights).
"""

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.engine.defaults import build_trainer
from maskrcnn_benchmark.engine.detector_inference import detector_inference
from maskrcnn_benchmark.engine.inference import inference_output_folder
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.utils.comm import is_distributed


def main() -> None:
    parser = default_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--skip-test", action="store_true", help="no test after training")
    args = parser.parse_args()
    cfg, device = setup(args)
    if cfg.MODEL.RELATION_ON:
        raise SystemExit("Detector pretraining needs MODEL.RELATION_ON False (add it to the "
                         "command line); relation training is tools/relation_train_net.py")
    model = build_detection_model(cfg).to(device)
    val_loaders = make_data_loader(cfg, "val", is_distributed()) if cfg.SOLVER.TO_VAL else []

    def validate() -> float:
        scores = [detector_inference(cfg, model, loader, name).ap50 or 0.0
                  for loader, name in zip(val_loaders, cfg.DATASETS.VAL)]
        return sum(scores) / len(scores)

    trainer, _ = build_trainer(cfg, device, model, resume=not args.no_resume,
                               init_weights=cfg.MODEL.WEIGHT,
                               validate=validate if val_loaders else None)
    trainer.train()
    if args.skip_test:
        return
    for loader, name in zip(make_data_loader(cfg, "test", is_distributed()), cfg.DATASETS.TEST):
        detector_inference(cfg, model, loader, name, inference_output_folder(cfg, name))


if __name__ == "__main__":
    main()
