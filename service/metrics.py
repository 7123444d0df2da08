"""Prometheus metrics of one app instance, in its own registry (no process-global state)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "huitou_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "huitou_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.orders_ingested = Counter(
            "huitou_orders_ingested_total",
            "Order messages applied",
            ["platform"],
            registry=self.registry,
        )
        self.events_written = Counter(
            "huitou_events_written_total",
            "Events appended to the log",
            ["type"],
            registry=self.registry,
        )

    def record_committed(self, info: Mapping[str, Any]) -> None:
        """Count what a unit of work wrote, once its transaction has committed."""
        for platform, n in info.get("orders_ingested", {}).items():
            self.orders_ingested.labels(platform).inc(n)
        for event_type, n in info.get("events_written", {}).items():
            self.events_written.labels(event_type).inc(n)
