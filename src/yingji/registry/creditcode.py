"""Unified social credit code (统一社会信用代码), GB 32100-2015.

Pure functions, no Django, no database.

Structure of the 18-character code::

    position  1      registration management department (登记管理部门代码)
    position  2      organisation category (机构类别代码), valid values depend on position 1
    positions 3-8    administrative division of the registering authority (GB/T 2260), 6 digits
    positions 9-17   subject identifier = organisation code (GB 11714); position 17 is the
                     organisation code's own check character
    position  18     check character over positions 1-17 (GB/T 17710, ISO 7064 MOD 31-3 style)

Alphabet: the digits and the upper-case letters except I, O, Z, S, V
(``0123456789ABCDEFGHJKLMNPQRTUWXY``, 31 characters, value = index).

Department / category table.  GB 32100-2015 itself defines the departments 1 (机构编制),
5 (民政), 9 (工商, now 市场监管) and Y (其他).  Further registration departments were authorised to
assign codes under the same standard afterwards (2 外交, 3 司法行政, 4 文化, 6 旅游, 7 宗教, 8 工会,
A 中央军委改革和编制办公室, N 农业), and codes from them are in everyday circulation (law firms
``31…``, trade unions ``81…``, village collective economic organisations ``N2…``).  A site
registry must not reject those real codes, so :data:`DEPARTMENT_CATEGORIES` holds the full
table; :data:`GB32100_DEPARTMENTS` names the four departments of the original standard.

Lower-case input.  The standard's alphabet is upper case only, but typing a code in lower case
is a very common data-entry slip and the intended code is unambiguous.  Therefore:

* ``strict=False`` (default; used by the spreadsheet import and the site forms): lower-case
  letters are converted to upper case and the code is accepted.  The returned ``reason`` is then
  the notice :data:`LOWERCASE_FIXED` (``ok`` stays ``True``) so the caller can tell the user
  about the fix; for a code that needed no such fix ``reason`` is ``""``.
* ``strict=True``: lower-case letters are rejected with the reason ``"含小写字母(应为大写)"``.

Other normalisation (always applied, silently): Unicode NFKC (full-width letters/digits to
half-width, U+3000 to a space) and removal of all whitespace anywhere in the input.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from operator import mul
from typing import NamedTuple

__all__ = [
    "ALPHABET",
    "DEPARTMENT_CATEGORIES",
    "GB32100_DEPARTMENTS",
    "LOWERCASE_FIXED",
    "CreditCodeCheck",
    "check_char",
    "generate_credit_code",
    "normalise_credit_code",
    "org_code_check_char",
    "validate_credit_code",
]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_ALLOWED = frozenset(ALPHABET)

# Weights for positions 1..17 (3**(i) mod 31).
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714 organisation-code weights for the 8 body characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

#: Registration management department -> {category code: meaning}.
DEPARTMENT_CATEGORIES: dict[str, dict[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常住新闻机构", "9": "其他"},
    "3": {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
          "5": "仲裁委员会", "9": "其他"},
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地(大陆)代表机构", "9": "其他"},
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}
DEPARTMENT_NAMES = {
    "1": "机构编制", "2": "外交", "3": "司法行政", "4": "文化", "5": "民政", "6": "旅游",
    "7": "宗教", "8": "工会", "9": "工商(市场监管)", "A": "中央军委改革和编制办公室", "N": "农业",
    "Y": "其他",
}
#: The departments defined in GB 32100-2015 itself.
GB32100_DEPARTMENTS = frozenset("159Y")

LOWERCASE_FIXED = "含小写字母,已转为大写"
_LOWERCASE_STRICT = "含小写字母(应为大写)"


class CreditCodeCheck(NamedTuple):
    """Result of :func:`validate_credit_code`; unpacks as ``ok, normalised, reason``."""

    ok: bool
    normalised: str
    reason: str


def normalise_credit_code(raw: object) -> str:
    """NFKC, drop all whitespace (incl. U+3000), upper-case. ``None`` -> ``""``."""
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw))
    return "".join(text.split()).upper()


def check_char(first17: str) -> str:
    """Check character (position 18) for the first 17 characters (must be in ALPHABET)."""
    total = sum(map(mul, map(_VALUE.__getitem__, first17), _WEIGHTS))
    return ALPHABET[-total % 31]


# GB 11714: digits keep their value, letters A..Z are 10..35.
_ORG_VALUE = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}


def org_code_check_char(body8: str) -> str:
    """GB 11714 organisation-code check character for the 8 body characters (10 -> X, 11 -> 0)."""
    total = sum(map(mul, map(_ORG_VALUE.__getitem__, body8), _ORG_WEIGHTS))
    c = 11 - total % 11
    if c == 10:
        return "X"
    if c == 11:
        return "0"
    return str(c)


def validate_credit_code(
    raw: object, *, strict: bool = False, check_org_code: bool = True
) -> CreditCodeCheck:
    """Validate a unified social credit code.

    Returns ``(ok, normalised, reason)``.  ``normalised`` is the cleaned code (always returned,
    also when invalid, so it can be shown back to the user).  ``reason`` is a precise Chinese
    message naming the first problem found; when ``ok`` is true it is ``""``, or
    :data:`LOWERCASE_FIXED` if lower-case letters were upper-cased (non-strict mode only).

    ``strict=True`` rejects lower-case letters ("含小写字母(应为大写)") instead of fixing them.
    ``check_org_code=False`` skips the GB 11714 check of position 17 (some legacy codes fail it).
    """
    if raw is None:
        text = ""
    else:
        text = raw if isinstance(raw, str) else str(raw)
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        text = "".join(text.split())
    if not text:
        return CreditCodeCheck(False, "", "统一社会信用代码为空")
    code = text.upper()
    has_lower = code != text and any("a" <= ch <= "z" for ch in text)
    if has_lower and strict:
        return CreditCodeCheck(False, code, _LOWERCASE_STRICT)
    if len(code) != 18:
        return CreditCodeCheck(False, code, f"长度应为18位,实为{len(code)}位")
    if not _ALLOWED.issuperset(code):
        pos, ch = next((i, c) for i, c in enumerate(code, start=1) if c not in _ALLOWED)
        return CreditCodeCheck(False, code, f"第{pos}位字符“{ch}”不在允许的字符集内")
    dept, cat = code[0], code[1]
    categories = DEPARTMENT_CATEGORIES.get(dept)
    if categories is None:
        return CreditCodeCheck(False, code, f"第1位登记管理部门代码“{dept}”无效")
    if cat not in categories:
        return CreditCodeCheck(
            False, code,
            f"第2位机构类别代码“{cat}”对登记管理部门“{dept}”({DEPARTMENT_NAMES[dept]})无效",
        )
    if not code[2:8].isdigit():
        return CreditCodeCheck(False, code, "第3-8位行政区划码应为6位数字")
    if check_org_code:
        expected = org_code_check_char(code[8:16])
        if code[16] != expected:
            return CreditCodeCheck(
                False, code,
                f"第17位组织机构代码校验位错误:应为“{expected}”,实为“{code[16]}”",
            )
    expected = check_char(code[:17])
    if code[17] != expected:
        return CreditCodeCheck(False, code, f"校验位错误:应为“{expected}”,实为“{code[17]}”")
    return CreditCodeCheck(True, code, LOWERCASE_FIXED if has_lower else "")


# --------------------------------------------------------------------------- generation

_DIGIT_SPACE = 10**8          # numeric organisation-code bodies (older codes)
_MA_SPACE = 31**6             # "MA" + 6 characters (codes assigned since 2015)
_DIGIT_MUL = 48_271_323       # odd and not a multiple of 5 -> coprime with 10**8
_MA_MUL = 548_512_277         # not a multiple of 31 -> coprime with 31**6
_CATEGORY_CYCLE = ("91", "92", "91", "91", "92", "91", "93", "91", "92", "91", "91", "12",
                   "91", "92", "91", "52")


def generate_credit_code(n: int, seed: int = 0, division: str = "330681") -> str:
    """Deterministic, valid (both check characters) and distinct code number ``n``.

    For a fixed ``seed`` and ``division`` the codes for different ``n`` (0 <= n < 2 * 10**8) are
    pairwise distinct: even ``n`` get an 8-digit organisation body, odd ``n`` a body ``MA`` + 6
    characters, each through a bijective affine permutation of ``n // 2``.  The prefix is mostly
    ``91`` (enterprise), with some ``92`` (individual business), ``93`` (cooperative), ``12``
    (public institution) and ``52`` (private non-enterprise unit).  For demo and scale data only.
    """
    if not 0 <= n < 2 * _DIGIT_SPACE:
        raise ValueError("n out of range")
    if len(division) != 6 or not division.isdigit():
        raise ValueError("division must be 6 digits")
    k = n >> 1
    offset = (seed * 2_654_435_761 + 12_345) & 0xFFFFFFFF
    if n & 1 == 0:
        body = f"{(k * _DIGIT_MUL + offset) % _DIGIT_SPACE:08d}"
    else:
        v = (k * _MA_MUL + offset) % _MA_SPACE
        v, r6 = divmod(v, 31)
        v, r5 = divmod(v, 31)
        v, r4 = divmod(v, 31)
        v, r3 = divmod(v, 31)
        r1, r2 = divmod(v, 31)
        a = ALPHABET
        body = "MA" + a[r1] + a[r2] + a[r3] + a[r4] + a[r5] + a[r6]
    body9 = body + org_code_check_char(body)
    prefix = _CATEGORY_CYCLE[(n + seed) % len(_CATEGORY_CYCLE)] + division
    total = _prefix_sum(prefix) + sum(map(mul, map(_VALUE.__getitem__, body9), _WEIGHTS[8:]))
    return prefix + body9 + ALPHABET[-total % 31]


@lru_cache(maxsize=256)
def _prefix_sum(prefix8: str) -> int:
    return sum(map(mul, map(_VALUE.__getitem__, prefix8), _WEIGHTS))
