"""Unified social credit code (GB 32100-2015) validation and generation. Pure, no database."""
from __future__ import annotations

import pytest

from yingji.registry.creditcode import (
    ALPHABET,
    DEPARTMENT_CATEGORIES,
    LOWERCASE_FIXED,
    check_char,
    generate_credit_code,
    normalise_credit_code,
    org_code_check_char,
    validate_credit_code,
)

# Published codes of well-known companies (both check characters verified by hand).
REAL_CODES = [
    "914403001922038216",  # 华为技术有限公司
    "91330100799655058B",  # 阿里巴巴(中国)有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
]


def _make(prefix8: str, body8: str) -> str:
    """Build a valid code from registration dept+category+division and an org-code body."""
    first17 = prefix8 + body8 + org_code_check_char(body8)
    return first17 + check_char(first17)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert validate_credit_code(code) == (True, code, "")


def test_constructed_codes_of_each_department_are_valid():
    built = [
        _make("91330681", "MA2BCD3E"),   # enterprise, Zhuji, new-style body
        _make("92330681", "30775612"),   # individual business
        _make("93330681", "MA29QQ7T"),   # farmers' cooperative
        _make("12330681", "00253477"),   # public institution
        _make("11330681", "00253451"),   # government organ
        _make("52330681", "MA29R4LX"),   # private non-enterprise unit
        _make("51330681", "50184426"),   # social organisation
        _make("Y1330681", "MA2J0001"),   # other
        _make("31330000", "E0001234"),   # law firm (司法行政, assigned after GB 32100-2015)
        _make("81330681", "MA29ABCD"),   # trade union
        _make("N2330681", "MA2DA7U9"),   # village collective economic organisation
    ]
    for code in built:
        assert validate_credit_code(code) == (True, code, ""), code


def test_org_code_check_char_matches_gb11714_worked_values():
    # Huawei's org code is 19220382-1; Alibaba's 79965505-8; Tencent's 70846113-6.
    assert org_code_check_char("19220382") == "1"
    assert org_code_check_char("79965505") == "8"
    assert org_code_check_char("70846113") == "6"
    # 11 -> "0" and 10 -> "X"
    assert org_code_check_char("00000000") == "0"
    body_x = next(f"{i:08d}" for i in range(1000) if org_code_check_char(f"{i:08d}") == "X")
    assert org_code_check_char(body_x) == "X"


def test_wrong_check_character():
    ok, code, reason = validate_credit_code("91330100799655058C")
    assert not ok
    assert code == "91330100799655058C"
    assert reason == "校验位错误:应为“B”,实为“C”"


def test_check_character_zero_when_sum_is_multiple_of_31():
    # Find a 17-char prefix whose weighted sum is divisible by 31: its check char must be "0".
    for i in range(10000):
        body = f"{i:08d}"
        first17 = "91330681" + body + org_code_check_char(body)
        if check_char(first17) == "0":
            assert validate_credit_code(first17 + "0").ok
            break
    else:  # pragma: no cover - 1/31 chance per try, practically unreachable
        pytest.fail("no prefix with check char 0 found")


def test_wrong_org_code_check_char_is_optional():
    # Correct final check char computed over a wrong position 17.
    first17 = "91330681" + "30775612" + "9"
    assert org_code_check_char("30775612") != "9"
    code = first17 + check_char(first17)
    ok, _, reason = validate_credit_code(code)
    assert not ok
    assert reason == f"第17位组织机构代码校验位错误:应为“{org_code_check_char('30775612')}”,实为“9”"
    assert validate_credit_code(code, check_org_code=False) == (True, code, "")


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("9133010079965505", "长度应为18位,实为16位"),
        ("91330100799655058BB", "长度应为18位,实为19位"),
        ("", "统一社会信用代码为空"),
        ("  \u3000 ", "统一社会信用代码为空"),
        (None, "统一社会信用代码为空"),
    ],
)
def test_wrong_length_and_empty(raw, reason):
    ok, _, got = validate_credit_code(raw)
    assert not ok
    assert got == reason


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_forbidden_letters(letter):
    code = "91330100799655058" + letter
    ok, _, reason = validate_credit_code(code)
    assert not ok
    assert reason == f"第18位字符“{letter}”不在允许的字符集内"
    code = "9133010079965" + letter + "058B"
    assert validate_credit_code(code).reason == f"第14位字符“{letter}”不在允许的字符集内"


def test_other_illegal_characters():
    assert validate_credit_code("9133010079965505-B").reason == "第17位字符“-”不在允许的字符集内"


def test_department_and_category():
    assert set(ALPHABET) == set("0123456789ABCDEFGHJKLMNPQRTUWXY")
    assert DEPARTMENT_CATEGORIES["9"].keys() == {"1", "2", "3"}
    assert DEPARTMENT_CATEGORIES["Y"].keys() == {"1"}
    bad_dept = _make("B1330681", "30775612")
    assert validate_credit_code(bad_dept).reason == "第1位登记管理部门代码“B”无效"
    bad_dept = _make("01330681", "30775612")
    assert validate_credit_code(bad_dept).reason == "第1位登记管理部门代码“0”无效"
    assert validate_credit_code(_make("94330681", "30775612")).reason == (
        "第2位机构类别代码“4”对登记管理部门“9”(工商(市场监管))无效"
    )
    assert validate_credit_code(_make("99330681", "30775612")).reason == (
        "第2位机构类别代码“9”对登记管理部门“9”(工商(市场监管))无效"
    )
    assert validate_credit_code(_make("Y2330681", "30775612")).reason == (
        "第2位机构类别代码“2”对登记管理部门“Y”(其他)无效"
    )
    assert validate_credit_code(_make("54330681", "30775612")).reason == (
        "第2位机构类别代码“4”对登记管理部门“5”(民政)无效"
    )


def test_division_must_be_digits():
    code = _make("9133A681", "30775612")
    assert validate_credit_code(code).reason == "第3-8位行政区划码应为6位数字"


def test_lowercase_accepted_and_normalised_when_not_strict():
    ok, code, reason = validate_credit_code("91330100799655058b")
    assert ok
    assert code == "91330100799655058B"
    assert reason == LOWERCASE_FIXED == "含小写字母,已转为大写"
    new_style = _make("91330681", "MA2BCD3E")
    assert validate_credit_code(new_style.lower()) == (True, new_style, LOWERCASE_FIXED)


def test_lowercase_rejected_in_strict_mode():
    ok, code, reason = validate_credit_code("91330100799655058b", strict=True)
    assert not ok
    assert code == "91330100799655058B"
    assert reason == "含小写字母(应为大写)"
    # Upper-case input passes strict mode.
    assert validate_credit_code("91330100799655058B", strict=True) == (True, "91330100799655058B", "")


def test_full_width_input_and_spaces():
    full = "９１３３０１００７９９６５５０５８Ｂ"
    assert validate_credit_code(full) == (True, "91330100799655058B", "")
    assert validate_credit_code(full, strict=True).ok
    assert validate_credit_code("  91330100799655058B\t\n") == (True, "91330100799655058B", "")
    assert validate_credit_code("\u30009133 0100 7996 5505 8B\u3000") == (True, "91330100799655058B", "")
    # full-width lower case: converted to half width, then upper-cased with a notice
    assert validate_credit_code("９１３３０１００７９９６５５０５８ｂ") == (
        True, "91330100799655058B", LOWERCASE_FIXED)
    assert normalise_credit_code("９１３３\u3000ｍａ") == "9133MA"


def test_generated_codes_are_valid_and_distinct():
    seen = set()
    for n in range(100_000):
        code = generate_credit_code(n)
        ok, norm, reason = validate_credit_code(code)
        assert ok, (n, code, reason)
        assert norm == code
        assert code[2:8] == "330681"
        seen.add(code)
    assert len(seen) == 100_000


def test_generation_is_deterministic_and_respects_seed_and_division():
    assert generate_credit_code(42) == generate_credit_code(42)
    assert generate_credit_code(42, seed=1) != generate_credit_code(42, seed=0)
    other = generate_credit_code(7, seed=5, division="330602")
    assert other[2:8] == "330602"
    assert validate_credit_code(other).ok
    # far into the range too
    for n in (10**6, 10**7 + 1, 2 * 10**8 - 1):
        assert validate_credit_code(generate_credit_code(n, seed=9)).ok
    with pytest.raises(ValueError):
        generate_credit_code(-1)
    with pytest.raises(ValueError):
        generate_credit_code(1, division="33068")
