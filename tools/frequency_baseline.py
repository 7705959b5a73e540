"""Evaluate the frequency-only baseline (PredCls: predicates from train statistics alone).

    python tools/frequency_baseline.py --config-file configs/quickstart/motifs_predcls.yaml \\
        OUTPUT_DIR output/quickstart/frequency_baseline

Statistics come from DATASETS.TRAIN (cached in OUTPUT_DIR); the split is DATASETS.TO_TEST.
Results go to OUTPUT_DIR/inference/<dataset>/ (eval_results.json, visualization.pth) like any
test run, so tools/visualize_predictions.py draws them.
"""

import logging
import os

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.inference import inference_output_folder
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.engine.relation import split_dataset_names
from maskrcnn_benchmark.evaluation import (
    build_sgg_evaluator,
    save_eval_results,
    save_visualization,
)
from maskrcnn_benchmark.evaluation.frequency_baseline import frequency_baseline_predictions


def main() -> None:
    args = default_argument_parser(__doc__.splitlines()[0]).parse_args()
    cfg, _ = setup(args)
    head = cfg.MODEL.ROI_RELATION_HEAD
    if not (head.USE_GT_BOX and head.USE_GT_OBJECT_LABEL):
        raise SystemExit("The frequency baseline is a PredCls baseline: set "
                         "USE_GT_BOX True and USE_GT_OBJECT_LABEL True")
    statistics = get_dataset_statistics(cfg)
    evaluator = build_sgg_evaluator(cfg, statistics)
    names = split_dataset_names(cfg, cfg.DATASETS.TO_TEST)
    for name, dataset in zip(names, build_dataset(cfg, names, is_train=False)):
        output = evaluator.evaluate(dataset, frequency_baseline_predictions(dataset, statistics))
        output.metrics["dataset"] = name
        folder = inference_output_folder(cfg, name)
        os.makedirs(folder, exist_ok=True)
        save_eval_results(os.path.join(folder, "eval_results.json"), output.metrics)
        save_visualization(os.path.join(folder, "visualization.pth"), output, dataset)
        logging.getLogger("maskrcnn_benchmark").info("%s\n%s", name, output.text)


if __name__ == "__main__":
    main()
