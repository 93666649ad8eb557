"""Every refusal the server may send is said in the panel's language, numbers filled in."""

from __future__ import annotations

import re

import pytest

from nowserving.counter.words import refusal_text
from nowserving.protocol.vocabulary import REFUSALS

SAMPLE = {"number": "A012", "more": 3, "recalls": 1, "need": 4, "seconds": 17, "capacity": 250,
          "opens": "2026-12-08 09:00", "time": "16:30", "max": 100, "counter": "c7",
          "status": "serving", "notice": "42", "booked": "10:30", "booking": "b17",
          "minutes": 25}  # fmt: skip


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_every_refusal_code_is_said_in_chinese_and_english(code):
    """GIVEN each refusal code with sample numbers WHEN it is said in zh and en THEN each is
    a catalogued text (not the unknown-code one) with no placeholder left; the Chinese has
    no English word in it once the filled-in values are taken out; numbers shown are there."""
    params = {k: SAMPLE[k] for k in REFUSALS[code]}
    zh, en = refusal_text("zh", code, params), refusal_text("en", code, params)
    assert zh != refusal_text("zh", "no-such-code") and en != refusal_text("en", "no-such-code")
    for said in (zh, en):
        assert "{" not in said and said.strip()
    bare = zh
    for value in params.values():
        bare = bare.replace(str(value), "")
    assert not re.search(r"[A-Za-z]{2,}", bare), zh
    for key in ("more", "recalls", "need", "seconds", "capacity"):
        if key in params:
            assert str(params[key]) in zh and str(params[key]) in en


def test_an_unknown_code_is_named_not_shown_in_english_words():
    assert refusal_text("zh", "brand_new", {}) == "操作被拒绝（brand_new）"


def test_the_recall_first_refusal_reads_as_staff_need_it():
    said = refusal_text(
        "zh", "recall_first", {"number": "A001", "more": 1, "recalls": 1, "need": 2}
    )
    assert said == "请先再重呼 A001 1 次（已重呼 1/2 次）"


def test_the_catalogue_holds_every_code_the_server_raises():
    """GIVEN the sources that refuse (the queue, the edge, the server) THEN every literal code
    they raise is in REFUSALS, and so in the panel's catalogue."""
    import nowserving

    root = __import__("pathlib").Path(nowserving.__file__).parent
    raised = set()
    for part in ("domain/branch.py", "protocol/messages.py", "server/app.py"):
        source = (root / part).read_text(encoding="utf-8")
        raised |= set(re.findall(r'(?:DomainError|ProtocolError)\(\s*"([a-z_]+)"', source))
        raised |= set(re.findall(r'"code": "([a-z_]+)"', source))
    raised |= {"counter_paused", "counter_closed"}  # f"counter_{state}"
    assert raised and raised <= set(REFUSALS), raised - set(REFUSALS)
