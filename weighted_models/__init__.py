"""weighted_models: class, sample and temporal weights inside the Keras 3 training step."""

from weighted_models.callbacks import ClassWeightScheduler, DeferredReweighting, PerClassReport
from weighted_models.data import InvalidLabelsError
from weighted_models.losses import (
    BalancedSoftmaxCrossentropy,
    LDAMLoss,
    LogitAdjustedCrossentropy,
    LogitAdjustment,
    SparseCategoricalFocalCrossentropy,
    adjust_logits,
)
from weighted_models.metrics import (
    BalancedAccuracy,
    ConfusionMatrix,
    MacroF1,
    PerClassRecall,
    Sensitivity,
    Specificity,
    WeightedF1,
)
from weighted_models.model import FunctionalWeightedModel, WeightedModel
from weighted_models.outputs import LABEL_MODES, OutputSpec
from weighted_models.sampling import ClassBalancedSampler, class_balanced_dataset
from weighted_models.strategies import (
    STRATEGIES,
    Balanced,
    EffectiveNumber,
    InversePower,
    Strategy,
    compute_class_weight,
    count_labels,
    get_strategy,
)
from weighted_models.weighting import (
    REDUCTIONS,
    element_weights,
    lookup_class_weights,
    reduce_weighted_loss,
)

__version__ = "0.1.0"

__all__ = [
    "ClassWeightScheduler",
    "DeferredReweighting",
    "PerClassReport",
    "BalancedSoftmaxCrossentropy",
    "LDAMLoss",
    "LogitAdjustedCrossentropy",
    "LogitAdjustment",
    "SparseCategoricalFocalCrossentropy",
    "adjust_logits",
    "BalancedAccuracy",
    "ConfusionMatrix",
    "MacroF1",
    "PerClassRecall",
    "Sensitivity",
    "Specificity",
    "WeightedF1",
    "FunctionalWeightedModel",
    "InvalidLabelsError",
    "LABEL_MODES",
    "OutputSpec",
    "REDUCTIONS",
    "STRATEGIES",
    "WeightedModel",
    "ClassBalancedSampler",
    "class_balanced_dataset",
    "Balanced",
    "EffectiveNumber",
    "InversePower",
    "Strategy",
    "compute_class_weight",
    "count_labels",
    "get_strategy",
    "element_weights",
    "lookup_class_weights",
    "reduce_weighted_loss",
]
