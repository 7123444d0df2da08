"""The reply keyword matcher as one table: opt-outs, opt-ins, and the customer questions that
look like them."""

from __future__ import annotations

import pytest

from service.messaging.callbacks.keywords import ReplyAction, ReplyIntent, match_reply

OUT, IN = ReplyAction.OPT_OUT, ReplyAction.OPT_IN


@pytest.mark.parametrize(("reply", "expected"), [
    # the Chinese shop norm: 回T退订
    ("T", (OUT, "T")),
    ("t", (OUT, "T")),
    ("Ｔ", (OUT, "T")),  # full width
    (" t ", (OUT, "T")),
    ("T。", (OUT, "T")),
    ("回T", (OUT, "T")),
    ("回复t", (OUT, "T")),
    ("TD", (OUT, "TD")),
    ("td", (OUT, "TD")),
    ("ＴＤ", (OUT, "TD")),
    ("TD谢谢", (OUT, "TD")),
    ("回TD", (OUT, "TD")),
    ("TD退订", (OUT, "TD")),
    ("退订", (OUT, "退订")),
    ("退订！", (OUT, "退订")),
    ("我要退订谢谢", (OUT, "退订")),
    ("回T退订", (OUT, "退订")),
    ("麻烦帮我退订，以后别发了", (OUT, "退订")),
    ("不要退订", (OUT, "退订")),  # ambiguous; taken as an opt-out (see the module docstring)
    ("取消订阅", (OUT, "取消订阅")),
    ("拒收", (OUT, "拒收")),
    ("退", (OUT, "退")),
    ("退。", (OUT, "退")),
    ("取消", (OUT, "取消")),
    ("退出", (OUT, "退出")),
    # English keywords as whole words
    ("STOP", (OUT, "STOP")),
    ("stop", (OUT, "STOP")),
    ("Stop please", (OUT, "STOP")),
    ("Please STOP!", (OUT, "STOP")),
    ("ＳＴＯＰ", (OUT, "STOP")),
    ("ｓｔｏｐ。", (OUT, "STOP")),
    ("请stop", (OUT, "STOP")),
    ("don't stop", (OUT, "STOP")),  # negation is not parsed, in English either
    ("STOPALL", (OUT, "STOPALL")),
    ("UNSUBSCRIBE", (OUT, "UNSUBSCRIBE")),
    ("unsubscribe me now", (OUT, "UNSUBSCRIBE")),
    ("opt out", (OUT, "OPTOUT")),
    ("Opt-Out", (OUT, "OPTOUT")),
    ("OPTOUT", (OUT, "OPTOUT")),
    ("CANCEL", (OUT, "CANCEL")),
    ("end", (OUT, "END")),
    ("Quit.", (OUT, "QUIT")),
    ("REVOKE", (OUT, "REVOKE")),
    # opting in: only as the whole reply
    ("START", (IN, "START")),
    ("start", (IN, "START")),
    ("Ｓｔａｒｔ！", (IN, "START")),
    ("UNSTOP", (IN, "UNSTOP")),
    ("subscribe", (IN, "SUBSCRIBE")),
    ("订阅", (IN, "订阅")),
    ("重新订阅", (IN, "重新订阅")),
    ("恢复订阅。", (IN, "恢复订阅")),
    # both ways: the opt-out wins
    ("STOP START", (OUT, "STOP")),
    ("start stop", (OUT, "STOP")),
    # neither: customer questions and chatter
    ("Tomorrow", None),
    ("STOPPED?", None),  # "my parcel stopped?": a question, not a keyword
    ("stopped", None),
    ("unstoppable", None),
    ("nonstop", None),
    ("T恤还有吗", None),
    ("我想买T恤", None),
    ("T-shirt", None),
    ("取消订单", None),
    ("订单取消了吗", None),
    ("退货", None),
    ("退款怎么办", None),
    ("cancel my order", None),
    ("the end of the box", None),
    ("quit smoking tips?", None),
    ("TDS", None),
    ("PTD", None),
    ("restart", None),
    ("Start date?", None),
    ("我不想订阅", None),
    ("订阅号在哪", None),
    ("谢谢", None),
    ("好的", None),
    ("什么时候发货", None),
    ("", None),
    ("   ", None),
    ("🙂", None),
])  # fmt: skip
def test_reply_keywords(reply: str, expected: tuple[ReplyAction, str] | None) -> None:
    intent = match_reply(reply)
    assert intent == (ReplyIntent(*expected) if expected else None)
