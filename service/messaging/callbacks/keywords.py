"""What an SMS reply asks for: opt out, opt in, or nothing (pure).

The reply is NFKC-normalised (full-width ＳＴＯＰ reads as STOP) and case-folded. Opting out is
made easy and opting in unambiguous:

- STOP, STOPALL, UNSUBSCRIBE, OPTOUT / OPT OUT and TD opt out as a whole word anywhere in the
  reply ("Please STOP!", "TD谢谢"). A longer word does not: "STOPPED?" and "Tomorrow" are not
  opt-outs; they read as questions about an order.
- 退订, 取消订阅 and 拒收 opt out wherever they appear ("我要退订谢谢"). So does "不要退订":
  it may mean "don't unsubscribe me", but it is as often "不要再发了，退订" without the comma,
  carriers' own 退订 filters read it as an opt-out, and a wrong opt-out is undone by replying
  订阅 while a wrong "no" keeps messaging someone who asked us to stop. Negated English
  ("don't stop") is treated the same way.
- Everyday words opt out only when they are the whole reply (punctuation and spaces aside):
  T, 回T, CANCEL, END, QUIT, REVOKE, 退, 取消, 退出. Within a sentence they are customer
  questions: "T恤还有吗" (T-shirt), "取消订单" (cancel my order), "退货" (a return).
- START, UNSTOP, SUBSCRIBE, 订阅, 重新订阅 and 恢复订阅 opt in only as the whole reply, so
  "取消订阅" or "我不想订阅" never re-subscribes anyone.
- A reply that matches both ways opts out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class ReplyAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


@dataclass(frozen=True)
class ReplyIntent:
    action: ReplyAction
    keyword: str  # canonical: upper case for Latin keywords, e.g. "STOP", "T", "退订"


OPT_OUT_WORDS = re.compile(
    r"(?<![a-z0-9])(stopall|stop|unsubscribe|optout|opt[\s_-]*out|td)(?![a-z0-9])"
)
OPT_OUT_PHRASES = ("退订", "取消订阅", "拒收")
OPT_OUT_WHOLE = {
    "t": "T",
    "回t": "T",
    "回复t": "T",
    "cancel": "CANCEL",
    "end": "END",
    "quit": "QUIT",
    "revoke": "REVOKE",
    "退": "退",
    "取消": "取消",
    "退出": "退出",
}
OPT_IN_WHOLE = {
    "start": "START",
    "unstop": "UNSTOP",
    "subscribe": "SUBSCRIBE",
    "订阅": "订阅",
    "重新订阅": "重新订阅",
    "恢复订阅": "恢复订阅",
}


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _bare(text: str) -> str:
    """The reply without punctuation, symbols, spaces or control characters."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PSZC")


def match_reply(text: str) -> ReplyIntent | None:
    """The opt-out or opt-in a reply asks for, with the keyword that said so; None for neither."""
    normal = normalize(text)
    word = OPT_OUT_WORDS.search(normal)
    if word:
        canonical = "OPTOUT" if word.group(1).startswith("opt") else word.group(1).upper()
        return ReplyIntent(ReplyAction.OPT_OUT, canonical)
    for phrase in OPT_OUT_PHRASES:
        if phrase in normal:
            return ReplyIntent(ReplyAction.OPT_OUT, phrase)
    bare = _bare(normal)
    if bare in OPT_OUT_WHOLE:
        return ReplyIntent(ReplyAction.OPT_OUT, OPT_OUT_WHOLE[bare])
    if bare in OPT_IN_WHOLE:
        return ReplyIntent(ReplyAction.OPT_IN, OPT_IN_WHOLE[bare])
    return None
