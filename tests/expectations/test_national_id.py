from __future__ import annotations

import random

import pyarrow as pa
from stdnum.th import pin

from expectations.national_id import is_valid_thai_national_id, valid_national_id_mask


def _valid(prefix12: str) -> str:
    return prefix12 + pin.calc_check_digit(prefix12)


VALID = _valid("310060044563")


def test_single_value_rules() -> None:
    assert is_valid_thai_national_id(VALID)
    wrong_digit = VALID[:-1] + str((int(VALID[-1]) + 1) % 10)
    assert not is_valid_thai_national_id(wrong_digit)
    assert not is_valid_thai_national_id(None)
    assert not is_valid_thai_national_id(VALID[:12])
    assert not is_valid_thai_national_id("3-1006-00445-63-5")  # separators change the HMAC
    assert not is_valid_thai_national_id(_valid("010060044563"))  # leading 0 not issued
    assert not is_valid_thai_national_id("๓๑๐๐๖๐๐๔๔๕๖๓๕")  # Thai digits are not read as IDs


def test_mask_on_valid_invalid_and_null() -> None:
    wrong = VALID[:-1] + str((int(VALID[-1]) + 1) % 10)
    array = pa.array([VALID, wrong, None, "", "abc", VALID, " " + VALID, VALID + "0"])
    assert valid_national_id_mask(array).to_pylist() == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]


def test_mask_agrees_with_stdnum_on_random_ids() -> None:
    rng = random.Random(3)
    values = ["".join(rng.choice("0123456789") for _ in range(13)) for _ in range(5000)]
    values += [_valid(str(rng.randint(10**11, 9 * 10**11 - 1))) for _ in range(5000)]
    chunked = pa.chunked_array([values[:4000], values[4000:]])
    mask = valid_national_id_mask(chunked).to_pylist()
    assert mask == [is_valid_thai_national_id(v) for v in values]
    assert sum(mask) >= 5000


def test_mask_on_dictionary_and_empty_arrays() -> None:
    encoded = pa.array([VALID, None, VALID]).dictionary_encode()
    assert valid_national_id_mask(encoded).to_pylist() == [True, False, True]
    assert valid_national_id_mask(pa.array([], pa.string())).to_pylist() == []
    assert valid_national_id_mask(pa.chunked_array([], pa.string())).to_pylist() == []
