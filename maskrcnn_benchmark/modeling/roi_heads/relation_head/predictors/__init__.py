"""Relation predictors; importing this package registers them in RELATION_PREDICTORS."""

from .base import PredictorOutput, RelationPredictorBase
from .causal import CausalAnalysisPredictor
from .imp import IMPPredictor
from .motifs import MotifPredictor
from .transformer import TransformerPredictor
from .vctree import VCTreePredictor

__all__ = [
    "PredictorOutput",
    "RelationPredictorBase",
    "CausalAnalysisPredictor",
    "IMPPredictor",
    "MotifPredictor",
    "TransformerPredictor",
    "VCTreePredictor",
]
