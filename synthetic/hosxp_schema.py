"""The HOSxP tables the HOSxP connector reads, as a HOSxP database declares them.

Column names and types follow HOSxP (BMS) as Thai hospitals run it: varchar keys (hn,
vn, an), DATE + TIME pairs, `hos_guid`, and the update stamps the connector windows on
(docs/connectors.md lists which ones it assumes). Only the columns the connector reads,
plus a few neighbours so the tables look like the real ones; utf8mb4 throughout.
"""

from __future__ import annotations

from typing import Final

TABLE_OPTIONS: Final = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

TABLES: Final[dict[str, str]] = {
    "patient": """hn VARCHAR(9) NOT NULL PRIMARY KEY, cid VARCHAR(13), pname VARCHAR(25),
        fname VARCHAR(100), lname VARCHAR(100), sex CHAR(1), birthday DATE,
        addrpart VARCHAR(50), moopart VARCHAR(3), road VARCHAR(100), chwpart CHAR(2),
        amppart CHAR(2), tmbpart CHAR(2), informaddr VARCHAR(250), hos_guid VARCHAR(38),
        last_update DATETIME, KEY ix_last_update (last_update)""",
    "ovst": """vn VARCHAR(13) NOT NULL PRIMARY KEY, hn VARCHAR(9) NOT NULL, an VARCHAR(9),
        vstdate DATE, vsttime TIME, doctor VARCHAR(7), main_dep CHAR(3), spclty CHAR(2),
        pttype CHAR(2), ovstost CHAR(2), hos_guid VARCHAR(38), KEY ix_hn (hn),
        KEY ix_vstdate (vstdate)""",
    "vn_stat": """vn VARCHAR(13) NOT NULL PRIMARY KEY, hn VARCHAR(9), vstdate DATE,
        an VARCHAR(9), pdx VARCHAR(7), age_y INT, income DOUBLE""",
    "ovst_seq": """vn VARCHAR(13) NOT NULL PRIMARY KEY, seq_id VARCHAR(30),
        update_datetime DATETIME, KEY ix_update (update_datetime)""",
    "opdscreen": """vn VARCHAR(13) NOT NULL PRIMARY KEY, hn VARCHAR(9), vstdate DATE,
        vsttime TIME, cc TEXT, temperature DOUBLE, bps DOUBLE, bpd DOUBLE, pulse DOUBLE,
        rr DOUBLE, bw DOUBLE, height DOUBLE, bmi DOUBLE, waist DOUBLE, fbs DOUBLE,
        hos_guid VARCHAR(38)""",
    "ovstdiag": """ovst_diag_id INT NOT NULL PRIMARY KEY, vn VARCHAR(13) NOT NULL,
        hn VARCHAR(9), vstdate DATE, icd10 VARCHAR(9), diagtype CHAR(1), doctor VARCHAR(7),
        hos_guid VARCHAR(38), KEY ix_vn (vn)""",
    "ipt": """an VARCHAR(9) NOT NULL PRIMARY KEY, hn VARCHAR(9) NOT NULL, vn VARCHAR(13),
        regdate DATE, regtime TIME, dchdate DATE, dchtime TIME, ward CHAR(4), dchstts CHAR(2),
        dchtype CHAR(2), update_datetime DATETIME, hos_guid VARCHAR(38)""",
    "iptdiag": """ipt_diag_id INT NOT NULL PRIMARY KEY, an VARCHAR(9) NOT NULL,
        icd10 VARCHAR(9), diagtype CHAR(1), doctor VARCHAR(7), KEY ix_an (an)""",
    "iptoprt": """iptoprt_id INT NOT NULL PRIMARY KEY, an VARCHAR(9) NOT NULL,
        icd9 VARCHAR(9), oprtdate DATE, doctor VARCHAR(7), KEY ix_an (an)""",
    "drugitems": """icode VARCHAR(7) NOT NULL PRIMARY KEY, name VARCHAR(200),
        strength VARCHAR(100), units VARCHAR(50), did VARCHAR(24), istatus CHAR(1)""",
    "opitemrece": """hos_guid VARCHAR(38) NOT NULL PRIMARY KEY, vn VARCHAR(13), an VARCHAR(9),
        hn VARCHAR(9), icode VARCHAR(7), qty DOUBLE, unitprice DOUBLE, rxdate DATE,
        rxtime TIME, doctor VARCHAR(7), KEY ix_vn (vn), KEY ix_an (an)""",
    "lab_items": """lab_items_code INT NOT NULL PRIMARY KEY, lab_items_name VARCHAR(150),
        lab_items_unit VARCHAR(50), provis_labcode VARCHAR(10)""",
    "lab_head": """lab_order_number INT NOT NULL PRIMARY KEY, vn VARCHAR(13), hn VARCHAR(9),
        order_date DATE, order_time TIME, report_date DATE, report_time TIME,
        confirm_report CHAR(1), KEY ix_vn (vn)""",
    "lab_order": """lab_order_number INT NOT NULL, lab_items_code INT NOT NULL,
        lab_order_result VARCHAR(255), PRIMARY KEY (lab_order_number, lab_items_code)""",
    "opd_allergy": """hn VARCHAR(9) NOT NULL, agent VARCHAR(150) NOT NULL, report_date DATE,
        symptom VARCHAR(250), reporter VARCHAR(7), relation_level INT, seriousness_id INT,
        informant CHAR(1), agent_code24 VARCHAR(24), update_datetime DATETIME,
        hos_guid VARCHAR(38), PRIMARY KEY (hn, agent)""",
    "person_vaccine": """person_vaccine_id INT NOT NULL PRIMARY KEY,
        vaccine_name VARCHAR(150), vaccine_code VARCHAR(10), export_vaccine_code VARCHAR(3)""",
    "ovst_vaccine": """ovst_vaccine_id INT NOT NULL PRIMARY KEY, vn VARCHAR(13) NOT NULL,
        person_vaccine_id INT, vaccine_lotno VARCHAR(50), doctor_code VARCHAR(7),
        hospcode CHAR(5), KEY ix_vn (vn)""",
    "er_oper_code": """er_oper_code INT NOT NULL PRIMARY KEY, name VARCHAR(200),
        icd9cm VARCHAR(9)""",
    "er_regist_oper": """er_regist_oper_id INT NOT NULL PRIMARY KEY, vn VARCHAR(13) NOT NULL,
        er_oper_code INT, doctor VARCHAR(7), KEY ix_vn (vn)""",
    "doctor_operation": """doctor_operation_id INT NOT NULL PRIMARY KEY,
        vn VARCHAR(13) NOT NULL, icd9 VARCHAR(9), doctor VARCHAR(7), KEY ix_vn (vn)""",
    "xray_items": """xray_items_code INT NOT NULL PRIMARY KEY, xray_items_name VARCHAR(200),
        modality VARCHAR(4), body_site VARCHAR(100)""",
    "xray_report": """xn INT NOT NULL PRIMARY KEY, vn VARCHAR(13), hn VARCHAR(9),
        xray_items_code INT, request_date DATE, report_text TEXT, doctor_read VARCHAR(7),
        KEY ix_vn (vn)""",
}


def create_statements() -> list[str]:
    return [f"CREATE TABLE {name} ({columns}) {TABLE_OPTIONS}" for name, columns in TABLES.items()]
