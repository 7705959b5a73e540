"""Evaluate a trained scene graph model on DATASETS.TO_TEST ("test", "val" or "train").

    python tools/relation_test_net.py --config-file configs/quickstart/motifs_predcls.yaml \\
        OUTPUT_DIR output/quickstart/motifs_predcls_ce
    python tools/relation_test_net.py --config-file configs/vg150/motifs_predcls.yaml \\
        MODEL.WEIGHT checkpoints/motifs_predcls/model_final.pth TEST.IMS_PER_BATCH 8

Weights come from OUTPUT_DIR/last_checkpoint when it exists, else MODEL.WEIGHT (an SGB or EBM
relation checkpoint loads; energy-model keys are only needed with MODEL.ENERGY_ON). Results go
to OUTPUT_DIR/inference/<dataset>/: eval_results.json, predictions.pth, visualization.pth and
per_predicate_recall.png. TEST.ENERGY_REFINE True refines predictions with the energy model's
sampler; TEST.ENERGY_DECODE.ON True re-decodes relation labels under the energy instead
(docs/ENERGY.md, "Energy-guided decoding"). Both write to the same folder as a plain run. A
checkpoint without an energy model (a CE run) is tested with MODEL.ENERGY_ON True and a
pretrained one from ENERGY_MODEL.WEIGHT (tools/energy_pretrain_net.py), e.g. for decoding.

SGB's scene graph detection on your own images (SGDet models; no annotations needed):

    python tools/relation_test_net.py --config-file configs/quickstart/motifs_sgdet.yaml \\
        MODEL.WEIGHT model_final.pth TEST.CUSTUM_EVAL True TEST.CUSTUM_PATH my_images \\
        DETECTED_SGG_DIR my_output

writes custom_prediction.json and custom_data_info.json (SGB's format; boxes in network-input
pixels) to DETECTED_SGG_DIR. tools/predict.py does the same with friendlier options
(docs/CUSTOM_IMAGES.md).
"""

from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.engine.predict import custom_eval_files, run_custom_eval
from maskrcnn_benchmark.engine.relation import test_relation_model
from maskrcnn_benchmark.engine.test_weights import load_relation_test_weights
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.utils.checkpoint import Checkpointer


def main() -> None:
    args = default_argument_parser(__doc__.splitlines()[0]).parse_args()
    cfg, device = setup(args, training=False)
    if not cfg.MODEL.RELATION_ON:
        raise SystemExit("The relation test needs MODEL.RELATION_ON True; detectors are "
                         "evaluated by tools/detector_test_net.py")
    custom_files = custom_eval_files(cfg)
    if custom_files is not None:  # SGB's TEST.CUSTUM_EVAL: predict, no evaluation
        run_custom_eval(cfg, custom_files, device, use_latest=not args.no_resume)
        return
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics).to(device)
    checkpointer = Checkpointer(model, save_dir=cfg.OUTPUT_DIR)
    if not checkpointer.has_checkpoint() and not cfg.MODEL.WEIGHT:
        raise SystemExit("No weights: set OUTPUT_DIR to a training folder holding "
                         "last_checkpoint, or MODEL.WEIGHT to a relation checkpoint")
    load_relation_test_weights(cfg, model, checkpointer, use_latest=not args.no_resume)
    test_relation_model(cfg, model, statistics)


if __name__ == "__main__":
    main()
