"""``predict(ds, ...)``: a Ray Dataset with every row predicted, in one call.

It is ``ds.map_batches(Predictor, ...)`` on an actor pool, with the arguments checked in
the driver first: a ``Predictor`` is made here (no I/O) so that a bad option is an
``aioeas`` error now, not an actor that fails to start on the cluster, maybe after retries.
"""

from __future__ import annotations

import ssl as _ssl
from typing import Any

from aioeas.errors import UsageError
from aioeas.ray.predictor import Predictor

__all__ = ["predict"]


def predict(
    ds: Any,
    endpoint: str = "",
    service_name: str = "",
    custom_url: str = "",
    *,
    actors: int = 1,
    batch_size: int | None = 256,
    batch_format: str = "pyarrow",
    num_cpus: float = 1.0,
    ray_remote_args: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """``ds`` with the prediction columns added, on a pool of ``actors`` actors.

    ``options`` are ``Predictor``'s (``kind``, ``concurrency`` per actor, ``token``...);
    ``batch_size`` rows are handed to an actor at a time (Ray runs a few at once per
    actor), in ``batch_format`` (``numpy``, ``pandas`` or ``pyarrow``). ``num_cpus``: what
    each actor reserves (an actor is mostly waiting on the network: with fewer CPUs than
    ``actors`` on the cluster, give it a fraction, or the pool waits for room forever).
    Lazy, as every Dataset: nothing runs until the result is consumed or written.
    """
    import ray.data

    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise UsageError(f"actors must be an int >= 1, got {actors!r}")
    if batch_format not in ("numpy", "pandas", "pyarrow"):
        raise UsageError(f"batch_format is numpy, pandas or pyarrow, got {batch_format!r}")
    if isinstance(options.get("ssl"), _ssl.SSLContext):
        raise UsageError(
            "an SSLContext cannot be sent to the actors: pass a function that makes it "
            "(ssl=lambda: ssl.create_default_context(cafile=...))"
        )
    kwargs = {
        "endpoint": endpoint,
        "service_name": service_name,
        "custom_url": custom_url,
        **options,
    }
    Predictor(**kwargs)  # every argument checked here, before any actor starts
    return ds.map_batches(
        Predictor,
        fn_constructor_kwargs=kwargs,
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=batch_size,
        batch_format=batch_format,
        num_cpus=num_cpus,
        **(ray_remote_args or {}),
    )
