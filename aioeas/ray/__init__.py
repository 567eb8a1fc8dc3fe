"""aioeas on Ray Data: score a dataset past one machine (the ``ray`` extra).

``Predictor`` is a callable class for ``Dataset.map_batches`` (one ``PredictClient`` per
actor, many predictions in flight); ``predict(ds, ...)`` runs it on an actor pool, its
arguments checked in the driver first. ``import aioeas`` never imports this package, and
this package imports ``ray`` only where a Dataset is built.
"""

from aioeas.ray.dataset import predict
from aioeas.ray.predictor import Predictor, RowError

__all__ = ["Predictor", "RowError", "predict"]
