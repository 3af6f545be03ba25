"""Which code system a FHIR coding is in, as the contract names it (`code_system`).

The one table from a system URI to the contract's name (connectors.contract.CODE_SYSTEM_NAMES).
A URI the table does not know is a hospital's own system, `local`: its codes are loaded,
counted and alerted on, never classified (docs/consent.md "Codes of other systems"). A
hospital whose server names a Thai system by another URI declares it in `code_system_names`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from connectors.contract import NATIVE_CODE_SYSTEMS

LOCAL: Final = "local"

# HL7's URIs (terminology.hl7.org) for the international systems; the Thai ones are this
# project's defaults (connectors/fhir_bulk/settings.py DEFAULT_CODE_SYSTEMS).
SYSTEM_NAMES: Final[dict[str, str]] = {
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://hl7.org/fhir/sid/icd-10-tm": "icd10",
    "http://hl7.org/fhir/sid/icd-9-cm": "icd9cm",
    "https://terms.moph.go.th/icd-10-tm-pcs": "icd10tm_pcs",
    "https://terms.moph.go.th/tmt": "tmt",
    "https://terms.moph.go.th/24-digit": "drug_24_digit",
    "https://terms.moph.go.th/lab": "moph_lab",
    "https://terms.moph.go.th/epi-vaccine": "moph_vaccine",
    "http://www.whocc.no/atc": "atc",
    "http://snomed.info/sct": "snomed",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://loinc.org": "loinc",
    "http://hl7.org/fhir/sid/cvx": "cvx",
}

# A name's URI, for FHIR output (warehouse/api/fhir.py): the first URI the table gives it.
SYSTEM_URIS: Final[dict[str, str]] = {}
for _uri, _name in SYSTEM_NAMES.items():
    SYSTEM_URIS.setdefault(_name, _uri)


def system_name(uri: str | None, declared: Mapping[str, str]) -> str:
    """The contract's name of system `uri`: the hospital's declared name, else the table's,
    else `local`."""
    if uri is None:
        return LOCAL
    return declared.get(uri) or SYSTEM_NAMES.get(uri, LOCAL)


def contract_code_system(entity: str, uri: str | None, declared: Mapping[str, str]) -> str | None:
    """What the row's `code_system` says: null for the entity's native Thai systems (read by
    shape, as a 43-file code), else the system's name."""
    name = system_name(uri, declared)
    return None if name in NATIVE_CODE_SYSTEMS[entity] else name
