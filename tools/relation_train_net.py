"""Train a scene graph model: cross-entropy, or energy-based with MODEL.ENERGY_ON True.

    python tools/relation_train_net.py --config-file configs/quickstart/motifs_predcls.yaml
    python tools/relation_train_net.py --config-file configs/vg150/vctree_predcls.yaml \\
        MODEL.ENERGY_ON True MODEL.PRETRAINED_DETECTOR_CKPT checkpoints/vg_faster_det.pth \\
        OUTPUT_DIR output/vctree_predcls_ebm
    torchrun --nproc_per_node=4 tools/relation_train_net.py --config-file ... (several GPUs)

A fresh run starts from MODEL.PRETRAINED_DETECTOR_CKPT (the relation head's feature extractors
copy the detector's box head); a rerun resumes from OUTPUT_DIR/last_checkpoint unless
--no-resume. Validation (SOLVER.VAL_PERIOD) drives WarmupReduceLROnPlateau; at the end the
model is evaluated on DATASETS.TEST unless --skip-test.
"""

from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.defaults import build_trainer
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.engine.relation import make_relation_validator, test_relation_model
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.relation_head import relation_slow_heads
from maskrcnn_benchmark.utils.checkpoint import RELATION_LOAD_MAPPING


def main() -> None:
    parser = default_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--skip-test", action="store_true", help="no test after training")
    args = parser.parse_args()
    cfg, device = setup(args)
    if not cfg.MODEL.RELATION_ON:
        raise SystemExit("Relation training needs MODEL.RELATION_ON True; detector pretraining "
                         "is tools/detector_pretrain_net.py")
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics).to(device)
    trainer, _ = build_trainer(
        cfg, device, model, resume=not args.no_resume,
        init_weights=cfg.MODEL.PRETRAINED_DETECTOR_CKPT, load_mapping=RELATION_LOAD_MAPPING,
        slow_heads=relation_slow_heads(model),
        validate=make_relation_validator(cfg, model, statistics),
    )
    trainer.train()
    if not args.skip_test:
        test_relation_model(cfg, model, statistics, split="test")


if __name__ == "__main__":
    main()
