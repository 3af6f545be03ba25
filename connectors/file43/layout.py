"""What each 43-file holds and how its fields map onto the canonical extract contract.

Everything here is declarative: field orders (MOPH 43-file standard, plus the project's own
IMAGING file), primary keys, and for every canonical column the source field(s) and how
they are read. `transform.py` interprets these declarations; `source_field()` answers
"which source field fed this canonical column" for validation messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from connectors.contract import VITAL_CODES, schema_for

# How a canonical column is computed from source text.
#   text          trimmed string, '' -> null
#   date          YYYYMMDD in the hospital's era -> date32
#   datetime      YYYYMMDDHHMMSS (or YYYYMMDD = midnight) -> timestamp
#   date_of       date part of a datetime field
#   date_time     date field + HHMMSS time field (time absent -> midnight)
#   date_or_date_of   first field as a date; when absent, the date part of the second (datetime)
#   number        float64; present but non-numeric -> null + invalid
#   number_lenient    float64; non-numeric -> null, NOT invalid (the text goes elsewhere)
#   non_numeric_text  the trimmed text only when it is not a number
#   sex           '1' male, '2' female, anything else unknown
#   const         a constant value (no source field)
ReadKind = Literal[
    "text",
    "date",
    "datetime",
    "date_of",
    "date_time",
    "date_or_date_of",
    "number",
    "number_lenient",
    "non_numeric_text",
    "sex",
    "const",
]


@dataclass(frozen=True)
class Source:
    kind: ReadKind
    fields: tuple[str, ...] = ()
    value: str | None = None  # for const

    @property
    def label(self) -> str:
        """The source's own name for this column, as people read it."""
        if self.kind == "const":
            return f"(constant {self.value})"
        if self.kind == "date_time":
            return "+".join(self.fields)
        return self.fields[0]


def text(name: str) -> Source:
    return Source("text", (name,))


def date(name: str) -> Source:
    return Source("date", (name,))


def datetime_(name: str) -> Source:
    return Source("datetime", (name,))


def number(name: str) -> Source:
    return Source("number", (name,))


def const(value: str) -> Source:
    return Source("const", value=value)


@dataclass(frozen=True)
class EntityMapping:
    """How one source file feeds one canonical entity."""

    entity: str
    key_prefix: str  # first part of record_key, e.g. 'OPD'
    key_fields: tuple[str, ...]  # source fields joined into record_key (PK without HOSPCODE)
    columns: dict[str, Source]  # canonical column -> source (lineage cid/pid/recorded_at too)
    # Long-format vitals: (source field, vital code); one row per present value.
    vitals: tuple[tuple[str, str], ...] = ()

    def source_fields(self) -> set[str]:
        used = {f for src in self.columns.values() for f in src.fields}
        used.update(self.key_fields)
        used.update(f for f, _ in self.vitals)
        return used


@dataclass(frozen=True)
class FileLayout:
    name: str
    fields: tuple[str, ...]  # newest spec, in file order
    primary_key: tuple[str, ...]
    mappings: tuple[EntityMapping, ...]
    # Older specs accepted in headerless files, recognised by their field count.
    older_specs: tuple[tuple[str, ...], ...] = ()

    @property
    def primary_entity(self) -> str:
        """The entity a rejected line is counted against."""
        return self.mappings[0].entity

    @property
    def specs(self) -> tuple[tuple[str, ...], ...]:
        return (self.fields, *self.older_specs)

    def required_fields(self) -> tuple[str, ...]:
        """Fields a file must have (in layout order): every field the mappings read."""
        used = set().union(*(m.source_fields() for m in self.mappings))
        return tuple(f for f in self.fields if f in used)


def _fields(spec: str) -> tuple[str, ...]:
    return tuple(spec.split("|"))


# Common to every entity: who and when recorded.
def _person(**extra: Source) -> dict[str, Source]:
    return {"cid": text("CID"), "pid": text("PID"), "recorded_at": datetime_("D_UPDATE"), **extra}


def _opd(date_field: str = "DATE_SERV") -> dict[str, Source]:
    return {
        "encounter_id": text("SEQ"),
        "encounter_class": const("OPD"),
        "service_date": date(date_field),
    }


def _ipd() -> dict[str, Source]:
    return {
        "encounter_id": text("AN"),
        "encounter_class": const("IPD"),
        "service_date": Source("date_of", ("DATETIME_ADMIT",)),
    }


_ADMISSION_NEW_SPEC_ONLY = ("DRG", "RW", "ADJRW", "ERROR", "WARNING", "ACTLOS", "GROUPER_VERSION")

_ADMISSION_FIELDS = _fields(
    "HOSPCODE|PID|SEQ|AN|DATETIME_ADMIT|WARDADMIT|INSTYPE|TYPEIN|REFERINHOSP|CAUSEIN|ADMITWEIGHT|"
    "ADMITHEIGHT|DATETIME_DISCH|WARDDISCH|DISCHSTATUS|DISCHTYPE|REFEROUTHOSP|CAUSEOUT|COST|PRICE|"
    "PAYPRICE|ACTUALPAY|PROVIDER|D_UPDATE|DRG|RW|ADJRW|ERROR|WARNING|ACTLOS|GROUPER_VERSION|CID"
)

LAYOUTS: Final[dict[str, FileLayout]] = {
    layout.name: layout
    for layout in (
        FileLayout(
            "PERSON",
            _fields(
                "HOSPCODE|CID|PID|HID|PRENAME|NAME|LNAME|HN|SEX|BIRTH|MSTATUS|OCCUPATION_OLD|"
                "OCCUPATION_NEW|RACE|NATION|RELIGION|EDUCATION|FSTATUS|FATHER|MOTHER|COUPLE|"
                "VSTATUS|MOVEIN|DISCHARGE|DDISCHARGE|ABOGROUP|RHGROUP|LABOR|PASSPORT|TYPEAREA|"
                "D_UPDATE|TELEPHONE|MOBILE"
            ),
            ("HOSPCODE", "PID"),
            (
                EntityMapping(
                    "patient",
                    "PERSON",
                    ("PID",),
                    _person(
                        hn=text("HN"),
                        prename=text("PRENAME"),
                        first_name=text("NAME"),
                        last_name=text("LNAME"),
                        sex=Source("sex", ("SEX",)),
                        birth_date=date("BIRTH"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "SERVICE",
            _fields(
                "HOSPCODE|PID|HN|SEQ|DATE_SERV|TIME_SERV|LOCATION|INTIME|INSTYPE|INSID|MAIN|"
                "TYPEIN|REFERINHOSP|CAUSEIN|CHIEFCOMP|SERVPLACE|BTEMP|SBP|DBP|PR|RR|TYPEOUT|"
                "REFEROUTHOSP|CAUSEOUT|COST|PRICE|PAYPRICE|ACTUALPAY|D_UPDATE|HSUB|CID"
            ),
            ("HOSPCODE", "PID", "SEQ"),
            (
                EntityMapping(
                    "encounter",
                    "OPD",
                    ("PID", "SEQ"),
                    _person(
                        **_opd(),
                        start_at=Source("date_time", ("DATE_SERV", "TIME_SERV")),
                        location=text("SERVPLACE"),
                        chief_complaint=text("CHIEFCOMP"),
                        discharge_status=text("TYPEOUT"),
                    ),
                ),
                EntityMapping(
                    "vital_sign",
                    "SERVICE",
                    ("PID", "SEQ"),
                    _person(**_opd()),
                    vitals=(
                        ("BTEMP", "body_temperature"),
                        ("SBP", "systolic_bp"),
                        ("DBP", "diastolic_bp"),
                        ("PR", "pulse_rate"),
                        ("RR", "respiratory_rate"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "ADMISSION",
            _ADMISSION_FIELDS,
            ("HOSPCODE", "PID", "AN"),
            (
                EntityMapping(
                    "encounter",
                    "IPD",
                    ("PID", "AN"),
                    _person(
                        **_ipd(),
                        admission_id=text("AN"),
                        start_at=datetime_("DATETIME_ADMIT"),
                        end_at=datetime_("DATETIME_DISCH"),
                        location=text("WARDADMIT"),
                        discharge_status=text("DISCHSTATUS"),
                    ),
                ),
            ),
            older_specs=(tuple(f for f in _ADMISSION_FIELDS if f not in _ADMISSION_NEW_SPEC_ONLY),),
        ),
        FileLayout(
            "DIAGNOSIS_OPD",
            _fields("HOSPCODE|PID|SEQ|DATE_SERV|DIAGTYPE|DIAGCODE|CLINIC|PROVIDER|D_UPDATE|CID"),
            ("HOSPCODE", "PID", "SEQ", "DIAGCODE"),
            (
                EntityMapping(
                    "diagnosis",
                    "OPD",
                    ("PID", "SEQ", "DIAGCODE"),
                    _person(
                        **_opd(),
                        diagnosis_type=text("DIAGTYPE"),
                        icd10_code=text("DIAGCODE"),
                        provider_id=text("PROVIDER"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "DIAGNOSIS_IPD",
            _fields(
                "HOSPCODE|PID|AN|DATETIME_ADMIT|WARDDIAG|DIAGTYPE|DIAGCODE|PROVIDER|D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "AN", "DATETIME_ADMIT", "DIAGCODE"),
            (
                EntityMapping(
                    "diagnosis",
                    "IPD",
                    ("PID", "AN", "DATETIME_ADMIT", "DIAGCODE"),
                    _person(
                        **_ipd(),
                        diagnosis_type=text("DIAGTYPE"),
                        icd10_code=text("DIAGCODE"),
                        provider_id=text("PROVIDER"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "DRUG_OPD",
            _fields(
                "HOSPCODE|PID|SEQ|DATE_SERV|CLINIC|DIDSTD|DNAME|AMOUNT|UNIT|UNIT_PACKING|"
                "DRUGPRICE|DRUGCOST|PROVIDER|D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "SEQ", "DIDSTD"),
            (
                EntityMapping(
                    "medication_dispense",
                    "OPD",
                    ("PID", "SEQ", "DIDSTD"),
                    _person(
                        **_opd(),
                        drug_code=text("DIDSTD"),
                        drug_name=text("DNAME"),
                        quantity=number("AMOUNT"),
                        unit=text("UNIT"),
                        provider_id=text("PROVIDER"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "DRUG_IPD",
            _fields(
                "HOSPCODE|PID|AN|DATETIME_ADMIT|WARDSTAY|TYPEDRUG|DIDSTD|DNAME|DATESTART|"
                "DATEFINISH|AMOUNT|UNIT|UNIT_PACKING|DRUGPRICE|DRUGCOST|PROVIDER|D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "AN", "DATETIME_ADMIT", "TYPEDRUG", "DIDSTD"),
            (
                EntityMapping(
                    "medication_dispense",
                    "IPD",
                    ("PID", "AN", "DATETIME_ADMIT", "TYPEDRUG", "DIDSTD"),
                    _person(
                        **{
                            **_ipd(),
                            "service_date": Source(
                                "date_or_date_of", ("DATESTART", "DATETIME_ADMIT")
                            ),
                        },
                        drug_code=text("DIDSTD"),
                        drug_name=text("DNAME"),
                        quantity=number("AMOUNT"),
                        unit=text("UNIT"),
                        provider_id=text("PROVIDER"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "PROCEDURE_OPD",
            _fields(
                "HOSPCODE|PID|SEQ|DATE_SERV|CLINIC|PROCEDCODE|SERVICEPRICE|PROVIDER|D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "SEQ", "PROCEDCODE"),
            (
                EntityMapping(
                    "procedure",
                    "OPD",
                    ("PID", "SEQ", "PROCEDCODE"),
                    _person(
                        **_opd(), procedure_code=text("PROCEDCODE"), provider_id=text("PROVIDER")
                    ),
                ),
            ),
        ),
        FileLayout(
            "PROCEDURE_IPD",
            _fields(
                "HOSPCODE|PID|AN|DATETIME_ADMIT|WARDSTAY|PROCEDCODE|TIMESTART|TIMEFINISH|"
                "SERVICEPRICE|PROVIDER|D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "AN", "DATETIME_ADMIT", "PROCEDCODE", "TIMESTART"),
            (
                EntityMapping(
                    "procedure",
                    "IPD",
                    ("PID", "AN", "DATETIME_ADMIT", "PROCEDCODE", "TIMESTART"),
                    _person(
                        **_ipd(), procedure_code=text("PROCEDCODE"), provider_id=text("PROVIDER")
                    ),
                ),
            ),
        ),
        FileLayout(
            "LABFU",
            _fields("HOSPCODE|PID|SEQ|DATE_SERV|LABTEST|LABRESULT|D_UPDATE|LABPLACE|CID"),
            ("HOSPCODE", "PID", "SEQ", "LABTEST"),
            (
                EntityMapping(
                    "lab_result",
                    "LABFU",
                    ("PID", "SEQ", "LABTEST"),
                    _person(
                        **_opd(),
                        lab_code=text("LABTEST"),
                        result_value=Source("number_lenient", ("LABRESULT",)),
                        result_text=Source("non_numeric_text", ("LABRESULT",)),
                    ),
                ),
            ),
        ),
        FileLayout(
            "EPI",
            _fields("HOSPCODE|PID|SEQ|DATE_SERV|VACCINETYPE|VACCINEPLACE|PROVIDER|D_UPDATE|CID"),
            ("HOSPCODE", "PID", "DATE_SERV", "VACCINETYPE"),
            (
                EntityMapping(
                    "immunization",
                    "EPI",
                    ("PID", "DATE_SERV", "VACCINETYPE"),
                    _person(
                        **_opd(),
                        vaccine_code=text("VACCINETYPE"),
                        vaccine_place=text("VACCINEPLACE"),
                        provider_id=text("PROVIDER"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "DRUGALLERGY",
            _fields(
                "HOSPCODE|PID|DATERECORD|DRUGALLERGY|DNAME|TYPEDX|ALEVEL|SYMPTOM|INFORMANT|"
                "INFORMHOSP|D_UPDATE|PROVIDER|CID"
            ),
            ("HOSPCODE", "PID", "DRUGALLERGY"),
            (
                EntityMapping(
                    "allergy",
                    "DRUGALLERGY",
                    ("PID", "DRUGALLERGY"),
                    _person(
                        recorded_date=date("DATERECORD"),
                        drug_code=text("DRUGALLERGY"),
                        drug_name=text("DNAME"),
                        allergy_type=text("TYPEDX"),
                        severity=text("ALEVEL"),
                        symptom=text("SYMPTOM"),
                        informant=text("INFORMANT"),
                    ),
                ),
            ),
        ),
        FileLayout(
            "NCDSCREEN",
            _fields(
                "HOSPCODE|PID|SEQ|DATE_SERV|SERVPLACE|SMOKE|ALCOHOL|DMFAMILY|HTFAMILY|WEIGHT|"
                "HEIGHT|WAIST_CM|SBP_1|DBP_1|SBP_2|DBP_2|BSLEVEL|BSTEST|SCREENPLACE|PROVIDER|"
                "D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "DATE_SERV"),
            (
                EntityMapping(
                    "vital_sign",
                    "NCDSCREEN",
                    ("PID", "DATE_SERV"),
                    _person(**_opd()),
                    vitals=(
                        ("WEIGHT", "body_weight"),
                        ("HEIGHT", "body_height"),
                        ("WAIST_CM", "waist_circumference"),
                        ("SBP_1", "systolic_bp"),
                        ("DBP_1", "diastolic_bp"),
                        ("BSLEVEL", "blood_glucose"),
                    ),
                ),
            ),
        ),
        # Project-defined: imaging report summaries have no 43-file (docs/contract.md).
        FileLayout(
            "IMAGING",
            _fields(
                "HOSPCODE|PID|SEQ|DATE_SERV|STUDYID|MODALITY|BODYSITE|STUDYCODE|CONCLUSION|"
                "PROVIDER|D_UPDATE|CID"
            ),
            ("HOSPCODE", "PID", "SEQ", "STUDYID"),
            (
                EntityMapping(
                    "imaging_report",
                    "IMAGING",
                    ("PID", "SEQ", "STUDYID"),
                    _person(
                        **_opd(),
                        study_id=text("STUDYID"),
                        modality=text("MODALITY"),
                        body_site=text("BODYSITE"),
                        study_code=text("STUDYCODE"),
                        conclusion=text("CONCLUSION"),
                        provider_id=text("PROVIDER"),
                    ),
                ),
            ),
        ),
    )
}

FILE_NAMES: Final[tuple[str, ...]] = tuple(LAYOUTS)


def layout_for(source_file: str) -> FileLayout:
    """The layout of 'SERVICE', 'SERVICE.txt' or 'service.TXT'."""
    stem = source_file.rsplit("/", 1)[-1].split(".", 1)[0].upper()
    try:
        return LAYOUTS[stem]
    except KeyError:
        raise ValueError(f"unknown 43-file {source_file!r}; known: {', '.join(LAYOUTS)}") from None


def source_field(source_file: str, column: str, *, vital_code: str | None = None) -> str:
    """The source field behind canonical `column` for rows from `source_file`."""
    layout = layout_for(source_file)
    for mapping in layout.mappings:
        if column == "value" and mapping.vitals:
            if vital_code is None:
                return "/".join(f for f, _ in mapping.vitals)
            for source, code in mapping.vitals:
                if code == vital_code:
                    return source
            raise ValueError(f"{layout.name} has no vital {vital_code!r}")
        if column in ("vital_code", "unit") and mapping.vitals:
            return "/".join(f for f, _ in mapping.vitals)
        if column == "record_key":
            return "+".join(mapping.key_fields)
        if column in mapping.columns:
            return mapping.columns[column].label
    if column in ("hospital_code",):
        return "HOSPCODE"
    raise ValueError(f"{layout.name} feeds no column {column!r}")


def _check_layouts() -> None:
    """Fail at import if a mapping names a column the contract does not have."""
    for layout in LAYOUTS.values():
        for mapping in layout.mappings:
            names = set(schema_for(mapping.entity).names)
            unknown = set(mapping.columns) - names
            missing = mapping.source_fields() - set(layout.fields)
            bad_vitals = {code for _, code in mapping.vitals} - set(VITAL_CODES)
            if unknown or missing or bad_vitals:
                raise AssertionError(f"{layout.name}: {unknown or missing or bad_vitals}")


_check_layouts()

__all__ = [
    "FILE_NAMES",
    "LAYOUTS",
    "EntityMapping",
    "FileLayout",
    "Source",
    "layout_for",
    "source_field",
]
