"""Energy-based learning (EBM paper Sec. 3.2-3.4): energy model, samplers, losses, objective.

Public entry points for the detector:

- ``build_energy_model(cfg, roi_feature_dim, num_obj_classes, num_rel_classes)``: the
  ``nn.Module`` to register as ``GeneralizedRCNN.energy_model``;
- ``build_energy_objective(cfg, num_obj_classes, num_rel_classes)``: the training loss plugin,
  called as ``objective(energy_model, head_output, targets, head_losses)`` -> the ``loss_*``
  dict of Eq. 5 (task losses scaled by lambda_t, energy loss, L2 term);
- ``build_energy_refiner(cfg, num_obj_classes)``: test-time refinement or None, called as
  ``refiner(energy_model, head_output)`` before the relation post-processor.
"""

from .energy_model import GraphEnergyModel, build_energy_model
from .graph_builder import build_gt_graph, build_predicted_graph
from .losses import ContrastiveDivergence, LogSumExp, SoftPlus, build_energy_loss
from .message_passing import Aggregation
from .objective import EnergyObjective, build_energy_objective
from .refine import EnergyRefiner, build_energy_refiner
from .samplers import SGLD, GradMode, build_sampler

__all__ = [
    "Aggregation",
    "ContrastiveDivergence",
    "EnergyObjective",
    "EnergyRefiner",
    "GradMode",
    "GraphEnergyModel",
    "LogSumExp",
    "SGLD",
    "SoftPlus",
    "build_energy_loss",
    "build_energy_model",
    "build_energy_objective",
    "build_energy_refiner",
    "build_gt_graph",
    "build_predicted_graph",
    "build_sampler",
]
