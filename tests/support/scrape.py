"""Reading a Prometheus exposition in the metrics tests: (name, labels) -> value."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from warehouse.pipeline.metrics import OpsCollector
from warehouse.settings import Settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def collect(settings: Settings) -> Samples:
    """What a scrape of `healthlink metrics serve` answers, collected in this process."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(OpsCollector(settings))
    return samples(generate_latest(scrape).decode("utf-8"))
