"""Energy-based learning (EBM paper Sec. 3.2-3.4): energy model, samplers, losses, objective.

Public entry points for the detector:

- ``build_energy_model(cfg, roi_feature_dim, num_obj_classes, num_rel_classes)``: the
  ``nn.Module`` to register as ``GeneralizedRCNN.energy_model``;
- ``build_energy_objective(cfg, num_obj_classes, num_rel_classes, statistics=None)``: the
  training loss plugin, called as ``objective(energy_model, head_output, targets,
  head_losses)`` -> the ``loss_*`` dict of Eq. 5 (task losses scaled by lambda_t, energy loss,
  L2 term); ``statistics`` (the train split's DatasetStatistics) feed the hard negatives'
  frequency prior;
- ``build_energy_refiner(cfg, num_obj_classes)``: test-time refinement or None, called as
  ``refiner(energy_model, head_output)`` before the relation post-processor;
- ``build_energy_decoder(cfg, num_obj_classes)``: energy-guided test-time decoding or None,
  called as ``decoder(energy_model, head_output)`` before the relation post-processor.

Pretraining on GT graphs (``pretrain_run.pretrain_energy_model(cfg)``, tools/energy_pretrain_net.py)
writes a weight file that ``load_pretrained_energy_model(cfg, model)`` loads through
ENERGY_MODEL.WEIGHT when relation training starts from scratch.

Every sampler satisfies the ``EnergySampler`` protocol (``sampler_protocol.py``).
"""

from .energy_decode import EnergyDecoder, build_energy_decoder
from .energy_model import GraphEnergyModel, build_energy_model
from .gibbs_sampler import GibbsWithGradients
from .graph_builder import build_gt_graph, build_predicted_graph, straight_through_one_hot
from .hard_negatives import HardNegatives, HardNegativeSampler, LabelPrior
from .losses import ContrastiveDivergence, LogSumExp, Margin, SoftPlus, build_energy_loss
from .message_passing import Aggregation, EdgeDirections
from .objective import EnergyObjective, build_energy_objective
from .pooling import Pooling, PoolingGate
from .pretrain_graphs import GTGraph, batch_graphs, gt_graph_from_target, load_gt_graphs
from .pretrain_run import pretrain_energy_model
from .pretrained import load_energy_model_file, load_pretrained_energy_model, save_energy_model
from .refine import EnergyRefiner, build_energy_refiner
from .sampler_protocol import EnergySampler
from .samplers import SGLD, GradMode, build_sampler

__all__ = [
    "Aggregation",
    "ContrastiveDivergence",
    "EdgeDirections",
    "EnergyDecoder",
    "EnergyObjective",
    "EnergyRefiner",
    "EnergySampler",
    "GTGraph",
    "GibbsWithGradients",
    "GradMode",
    "GraphEnergyModel",
    "HardNegativeSampler",
    "HardNegatives",
    "LabelPrior",
    "LogSumExp",
    "Margin",
    "Pooling",
    "PoolingGate",
    "SGLD",
    "SoftPlus",
    "batch_graphs",
    "build_energy_decoder",
    "build_energy_loss",
    "build_energy_model",
    "build_energy_objective",
    "build_energy_refiner",
    "build_gt_graph",
    "build_predicted_graph",
    "build_sampler",
    "gt_graph_from_target",
    "load_energy_model_file",
    "load_gt_graphs",
    "load_pretrained_energy_model",
    "pretrain_energy_model",
    "save_energy_model",
    "straight_through_one_hot",
]
