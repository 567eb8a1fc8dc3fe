"""The metric instruments of one instrumentation, made on the meter it was given.

Durations are histograms in seconds with the bucket boundaries the HTTP conventions
advise; counts are counters; what is "now" (requests in flight, records in hand) is an
up-down counter, the backends in rotation a gauge.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from aioeas.otel import names as n

__all__ = ["DURATION_BUCKETS", "Instruments"]

#: The HTTP conventions' advice for ``http.client.request.duration``, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class Instruments:
    """Every instrument aioeas reports to; ``watchers`` are read when metrics are collected
    (weakly held: a watcher let go of is not kept alive by its metrics)."""

    def __init__(self, meter: Meter) -> None:
        self.request_duration = meter.create_histogram(
            n.HTTP_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of each HTTP try of a predict.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        #: Tries in flight by (server.address, server.port): counted here, in a dict, and
        #: read when metrics are collected (an SDK call per change would cost a predict
        #: two more attribute-set lookups; the exported data is the same up-down sum).
        self.active: dict[tuple[str, int], int] = {}
        meter.create_observable_up_down_counter(
            n.HTTP_CLIENT_ACTIVE_REQUESTS,
            callbacks=[self._active],
            unit="{request}",
            description="Predict tries sent and not answered yet.",
        )
        self.retries = meter.create_counter(
            n.RETRIES, unit="{retry}", description="Predict tries that repeat a failed one."
        )
        self.discovery_refreshes = meter.create_counter(
            n.DISCOVERY_REFRESHES,
            unit="{refresh}",
            description="Service discovery polls of VPC direct clients, by outcome.",
        )
        self.discovery_backends = meter.create_gauge(
            n.DISCOVERY_BACKENDS,
            unit="{backend}",
            description="Backends in rotation after the last discovery poll.",
        )
        self.sent_messages = meter.create_counter(
            n.MESSAGING_CLIENT_SENT_MESSAGES,
            unit="{message}",
            description="Records put in a queue.",
        )
        self.consumed_messages = meter.create_counter(
            n.MESSAGING_CLIENT_CONSUMED_MESSAGES,
            unit="{message}",
            description="Records a watcher handed to its consumer.",
        )
        self.operation_duration = meter.create_histogram(
            n.MESSAGING_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of queue puts and of a watcher's commit requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.reconnects = meter.create_counter(
            n.WATCHER_RECONNECTS,
            unit="{reconnect}",
            description="Watcher connections lost and made again.",
        )
        self.watchers: weakref.WeakSet[Any] = weakref.WeakSet()
        meter.create_observable_up_down_counter(
            n.WATCHER_IN_HAND,
            callbacks=[self._in_hand],
            unit="{record}",
            description="Records a watcher received and its consumer has not committed.",
        )

    def _active(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(
                count,
                {n.HTTP_REQUEST_METHOD: "POST", n.SERVER_ADDRESS: host, n.SERVER_PORT: port},
            )
            for (host, port), count in list(self.active.items())
        ]

    def _in_hand(self, options: CallbackOptions) -> Iterable[Observation]:
        # (uninstrumented, the meter keeps this callback: the set is empty then)
        totals: dict[str, int] = {}
        for watcher in list(self.watchers):
            if not watcher.closed:
                queue = queue_of(watcher)
                totals[queue] = totals.get(queue, 0) + watcher.in_hand
        return [
            Observation(
                count,
                {n.MESSAGING_SYSTEM: n.MESSAGING_SYSTEM_VALUE, n.MESSAGING_DESTINATION_NAME: queue},
            )
            for queue, count in totals.items()
        ]


def queue_of(watcher: Any) -> str:
    """The name of the queue a watcher reads (its client's ``queue_name``, else URL)."""
    client = watcher._client
    name = getattr(client, "queue_name", None)
    return name if isinstance(name, str) else str(client.url)
