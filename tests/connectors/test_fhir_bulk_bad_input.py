"""The FHIR bulk connector on resources of any shape: every resource becomes rows, a reject
naming its type and id (or file and line), or nothing by design; it never raises, and no
reject repeats a value."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.fhir_bulk.connector import WANTED
from connectors.registry import build_connector
from synthetic.fhir_hospital import THAI_ID_SYSTEM
from tests.support.fhir_bulk_samples import DAY, exported

MARKER = "ZZSECRETZZ"
ELEMENTS = (
    "id",
    "meta",
    "subject",
    "patient",
    "encounter",
    "context",
    "period",
    "code",
    "class",
    "category",
    "valueQuantity",
    "component",
    "effectiveDateTime",
    "onsetDateTime",
    "identifier",
    "birthDate",
    "medicationCodeableConcept",
    "quantity",
    "recordedDate",
    "vaccineCode",
    "performer",
    "modality",
    "series",
    "reaction",
    "name",
    "gender",
)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.just(MARKER)
    | st.sampled_from(["", "2026-11-23", "2026-13-45T25:00:00+07:00", "Patient/p1", "x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "reference",
                    "code",
                    "system",
                    "coding",
                    "start",
                    "value",
                    "text",
                    "lastUpdated",
                    "unit",
                    "given",
                    "family",
                    "prefix",
                    "display",
                    "actor",
                    "comparator",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


@st.composite
def mangled(draw: st.DrawFn) -> dict[str, object]:
    """A sample resource with some of its elements replaced by anything."""
    samples = [r for rs in exported().values() for r in rs]
    resource = dict(draw(st.sampled_from(samples)))
    for element in draw(st.lists(st.sampled_from(ELEMENTS), max_size=4, unique=True)):
        resource[element] = draw(values)
    return resource


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mangled(), min_size=1, max_size=6))
def test_any_shape_is_a_row_a_reject_or_nothing_never_an_error(
    resources: list[dict[str, object]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / DAY.isoformat()
        day.mkdir()
        by_type: dict[str, list[bytes]] = {}
        for resource in [*exported()["Patient"], *resources]:
            by_type.setdefault(str(resource["resourceType"]), []).append(orjson.dumps(resource))
        for resource_type, lines in by_type.items():
            (day / f"{resource_type}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
        connector = build_connector(
            {"kind": "fhir_bulk", "path": tmp, "national_id_system": THAI_ID_SYSTEM}
        )
        extract = connector.read("10998", None, DAY)
    for reject in extract.rejected:
        assert reject.location.source in WANTED or reject.location.source.endswith(".ndjson")
        assert MARKER not in reject.reason and MARKER not in (reject.field or "")
    rows = sum(table.num_rows for table in extract.tables.values())
    assert rows + len(extract.rejected) >= 1  # the Patient at least
