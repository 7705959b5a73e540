"""Pretrain the energy model on the train split's GT graphs against changed copies of them.

    OMP_NUM_THREADS=1 python tools/energy_pretrain_net.py \\
        --config-file configs/synthetic_default/base.yaml ENERGY_MODEL.USE_IMAGE_GRAPH False \\
        ENERGY_MODEL.LOSS Margin ENERGY_MODEL.HARD_NEGATIVES.NUM 4 \\
        OUTPUT_DIR output/energy_pretrain/seed0

No detector and no images are read (annotations only). Settings: ENERGY_MODEL.PRETRAIN.*
(epochs, Adam learning rate, graphs per step, pair cap), ENERGY_MODEL.HARD_NEGATIVES.*,
ENERGY_MODEL.LOSS / MARGIN / L2COEFF, SEED. Writes OUTPUT_DIR/energy_model.pth (load it into
relation training with ENERGY_MODEL.WEIGHT and the same energy-model settings),
OUTPUT_DIR/energy_pretrain.json (per-epoch loss, energies and validation ranking; test ranking)
and TensorBoard scalars. A rerun starts again from scratch (--no-resume has no effect).
With --rank-only nothing is trained: the energy model of ENERGY_MODEL.WEIGHT gets the test
ranking (same copies, same kinds) in OUTPUT_DIR/energy_ranking.json.
See docs/ENERGY.md, "Pretraining the energy model".
"""

from maskrcnn_benchmark.engine.launch import default_argument_parser, setup
from maskrcnn_benchmark.modeling.energy.pretrain_run import pretrain_energy_model, rank_energy_model


def main() -> None:
    parser = default_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--rank-only", action="store_true",
                        help="only the test ranking of the energy model in ENERGY_MODEL.WEIGHT")
    args = parser.parse_args()
    cfg, _ = setup(args)
    if args.rank_only:
        rank_energy_model(cfg)
    else:
        pretrain_energy_model(cfg)


if __name__ == "__main__":
    main()
