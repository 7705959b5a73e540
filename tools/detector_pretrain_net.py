"""Train the detector (Faster R-CNN) on its own, as SGB's tools/detector_pretrain_net.py.

    python tools/detector_pretrain_net.py --config-file configs/detector/synthetic_R18_FPN.yaml
    torchrun --nproc_per_node=4 tools/detector_pretrain_net.py \
        --config-file configs/detector/vg150_X_101_32_8_FPN.yaml OUTPUT_DIR output/detector

SGD with SGB's learning-rate rules and the SOLVER schedule; checkpoints every
SOLVER.CHECKPOINT_PERIOD in OUTPUT_DIR (a rerun resumes from OUTPUT_DIR/last_checkpoint unless
--no-resume); validation mAP@0.5 every SOLVER.VAL_PERIOD on DATASETS.VAL; final test on
DATASETS.TEST. MODEL.WEIGHT initialises a fresh run (e.g. ImageNet backbone weights).
"""

import torch

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.engine.detector_inference import detector_inference
from maskrcnn_benchmark.engine.hooks import EvalHook, PeriodicCheckpointer, PeriodicWriter
from maskrcnn_benchmark.engine.inference import inference_output_folder
from maskrcnn_benchmark.engine.launch import default_argument_parser, setup, wrap_ddp
from maskrcnn_benchmark.engine.trainer import Trainer, make_grad_scaler
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.solver import make_lr_scheduler, make_optimizer
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.comm import is_distributed


def main() -> None:
    args = default_argument_parser(__doc__.splitlines()[0]).parse_args()
    cfg, device = setup(args)
    if cfg.MODEL.RELATION_ON:
        raise SystemExit("Detector pretraining needs MODEL.RELATION_ON False (add it to the "
                         "command line); relation training is tools/relation_train_net.py")
    model = build_detection_model(cfg).to(device)
    optimizer = make_optimizer(cfg, model)
    scheduler = make_lr_scheduler(cfg, optimizer)
    scaler = make_grad_scaler(cfg.DTYPE, torch.device(device).type)
    checkpointer = Checkpointer(model, optimizer, scheduler, scaler, cfg.OUTPUT_DIR)
    resume = not args.no_resume and checkpointer.has_checkpoint()
    extra = checkpointer.load(cfg.MODEL.WEIGHT or None, use_latest=resume, with_optim=resume)
    start_iter = int(extra.get("iteration", 0)) if resume else 0

    distributed = is_distributed()
    train_model = wrap_ddp(model, device)
    trainer = Trainer(
        train_model, make_data_loader(cfg, "train", distributed, start_iter), optimizer,
        scheduler, max_iter=cfg.SOLVER.MAX_ITER, device=device, start_iter=start_iter,
        grad_clip=cfg.SOLVER.GRAD_NORM_CLIP, dtype=cfg.DTYPE,
        grad_log_period=cfg.SOLVER.PRINT_GRAD_FREQ, scaler=scaler,
    )
    if resume:
        trainer.resume_rng_state(extra.get("rng"))
    val_loaders = make_data_loader(cfg, "val", distributed) if cfg.SOLVER.TO_VAL else []

    def validate() -> float:
        scores = [detector_inference(cfg, model, loader, name).ap50 or 0.0
                  for loader, name in zip(val_loaders, cfg.DATASETS.VAL)]
        return sum(scores) / len(scores)

    trainer.register_hooks([
        PeriodicCheckpointer(checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD),
        EvalHook(cfg.SOLVER.VAL_PERIOD, validate, cfg.SOLVER.PRE_VAL) if val_loaders else None,
        PeriodicWriter(cfg.SOLVER.LOG_PERIOD, cfg.OUTPUT_DIR),
    ])
    trainer.train()
    for loader, name in zip(make_data_loader(cfg, "test", distributed), cfg.DATASETS.TEST):
        detector_inference(cfg, model, loader, name, inference_output_folder(cfg, name))


if __name__ == "__main__":
    main()
