"""Losing chosen segments on purpose: nf_tables rules in the run's own network namespace.

``--drop server:F`` (or a scenario's own :class:`LossRule`) makes the namespace drop that
segment once on its way in, after the capture saw it leave: the sender's retransmission is then
on the wire, and the dropped copy is drawn where it died.  This kernel has nf_tables but no
netem, so each rule is one ``nft`` rule on the ``input`` hook of a table of the namespace's own
(``inet tcptrace_viz``: IPv4 and IPv6 alike).  "The Nth matching segment" is counted by the
rule itself: ``numgen inc`` is evaluated only for segments that passed the rule's earlier
matches (side and flags), so it numbers exactly those, retransmissions included.

The rules go with the namespace; nothing on the machine is changed.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from collections.abc import Sequence

TABLE = "tcptrace_viz"
FLAG_BITS = {"F": "fin", "S": "syn", "R": "rst", "P": "psh", ".": "ack", "U": "urg",
             "E": "ecn", "W": "cwr"}
"""tcpdump's flag letters and nft's names for them."""
SIDES = ("client", "server")
_SPEC = re.compile(r"^(?P<side>[a-z]+):(?P<flags>[FSRPUEW.]+)(?:#(?P<nth>\d+))?$")
_NUMBERS = 1_000_000_000
"""The modulus of the rule's running number (never reached in a run)."""
NFT_TIMEOUT_S = 10.0


class LossRuleError(ValueError):
    """A loss rule that cannot be understood or installed (one sentence)."""


@dataclasses.dataclass(frozen=True)
class LossRule:
    """Lose segments sent by ``side`` whose TCP flags include ``flags``.

    ``flags`` uses tcpdump's letters (``F S R P . U E W``): every letter given must
    be set, so ``F`` is any FIN (``F.``, ``FP.``) and ``S`` from the server is its SYN-ACK; ``.``
    alone means a bare ACK (ACK and no other flag).  ``nth``: the first one lost is the
    ``nth`` such segment (1-based, retransmissions count); ``count``: how many are lost from
    there on, 0 for every one.
    """

    side: str
    flags: str
    nth: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise LossRuleError(f"a segment to lose is sent by client or server, not "
                                f"{self.side!r}")
        if not self.flags or any(letter not in FLAG_BITS for letter in self.flags):
            raise LossRuleError(f"flags {self.flags!r} are not tcpdump flag letters (F S R P . "
                                "U E W)")
        if self.nth < 1 or self.count < 0:
            raise LossRuleError("a segment to lose is counted from 1 (#1 is the first), and "
                                "the number lost is 0 (every one) or more")

    @property
    def text(self) -> str:
        """The rule as ``--drop`` takes it: ``server:F``, ``client:P#2``, ``server:.#1 x all``."""
        text = f"{self.side}:{self.flags}" + (f"#{self.nth}" if self.nth != 1 else "")
        if self.count != 1:
            text += " x all" if self.count == 0 else f" x {self.count}"
        return text

    def matches(self, side: str, flags: str) -> bool:
        """Whether a segment ``side`` sent with tcpdump flags ``flags`` is one this rule counts."""
        if side != self.side:
            return False
        if self.flags == ".":
            return flags == "."
        return all(letter in flags for letter in self.flags)

    def takes(self, number: int) -> bool:
        """Whether the ``number``-th matching segment (1-based) is one this rule loses."""
        return number >= self.nth and (self.count == 0 or number < self.nth + self.count)


def parse_rule(text: str) -> LossRule:
    """``SIDE:FLAGS[#N]`` (``server:F``, ``client:P#2``) as a rule that loses one segment."""
    match = _SPEC.match(text.strip())
    if match is None:
        raise LossRuleError(f"--drop {text!r} is not SIDE:FLAGS[#N]{_what_is_wrong(text)} (e.g. "
                            "server:F to lose the server's first FIN, client:P#2 the client's "
                            "second PSH segment)")
    return LossRule(match["side"], match["flags"], int(match["nth"] or 1))


def _what_is_wrong(text: str) -> str:
    """Which part of a ``--drop`` rule is wrong, as a clause (``""`` when not plain)."""
    side, colon, rest = text.strip().partition(":")
    flags, _, nth = rest.partition("#")
    if not colon or not re.fullmatch(r"[a-z]+", side):
        return ": it must start with a side and a colon (client: or server:)"
    bad = sorted(set(flags) - set("FSRPUEW."))
    if not flags or bad:
        return (f": {''.join(bad)!r} is not a flag letter (F S R P U E W, or . for a bare ACK)"
                if bad else ": the flags are missing after the colon")
    return f": #{nth} is not a count (#1, #2...)" if "#" in rest else ""


def nft_available() -> bool:
    """Whether the ``nft`` tool is installed."""
    return shutil.which("nft") is not None


def _rule_line(rule: LossRule, number: int, server_port: int) -> str:
    port = f"tcp sport {server_port}" if rule.side == "server" else f"tcp dport {server_port}"
    bits = [FLAG_BITS[letter] for letter in rule.flags]
    flags = ("tcp flags == ack" if rule.flags == "."
             else f"tcp flags & ({'|'.join(bits)}) == {'|'.join(bits)}")
    first = rule.nth - 1
    if rule.count == 1:
        which = f" numgen inc mod {_NUMBERS} {first}"
    elif rule.count:
        which = f" numgen inc mod {_NUMBERS} {first}-{first + rule.count - 1}"
    else:
        which = f" numgen inc mod {_NUMBERS} >= {first}" if first else ""
    return f"    {port} {flags}{which} counter drop comment \"rule {number}\"\n"


def ruleset(rules: Sequence[LossRule], server_port: int) -> str:
    """The nft script for ``rules``: one table, one input chain, a rule each, in order."""
    lines = "".join(_rule_line(rule, number, server_port) for number, rule in enumerate(rules))
    return (f"table inet {TABLE} {{\n  chain lose {{\n"
            "    type filter hook input priority raw; policy accept;\n"
            f"{lines}  }}\n}}\n")


def _nft(arguments: list[str], script: str | None = None) -> str:
    if not nft_available():
        raise LossRuleError("losing a segment needs the nft tool, which is not installed "
                            "(apt-get install nftables)")
    try:
        done = subprocess.run(["nft", *arguments], input=script, capture_output=True,
                              text=True, timeout=NFT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LossRuleError(f"nft did not run: {exc}") from exc
    if done.returncode:
        problem = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise LossRuleError(f"nft refused the rule to lose a segment: {problem}")
    return done.stdout


def install(rules: Sequence[LossRule], server_port: int) -> None:
    """Add ``rules`` to the current network namespace (call inside the run's own)."""
    if rules:
        _nft(["-f", "-"], ruleset(rules, server_port))


def lost_counts(rules: Sequence[LossRule]) -> list[int]:
    """How many segments each of ``rules`` has dropped so far (its nft counter), in order."""
    if not rules:
        return []
    listing = json.loads(_nft(["-j", "list", "table", "inet", TABLE]) or "{}")
    counts = [0] * len(rules)
    for item in listing.get("nftables", []):
        rule = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(rule, dict):
            continue
        number = str(rule.get("comment", "")).removeprefix("rule ")
        packets = [expr["counter"].get("packets", 0) for expr in rule.get("expr", [])
                   if isinstance(expr, dict) and isinstance(expr.get("counter"), dict)]
        if number.isdigit() and int(number) < len(counts) and packets:
            counts[int(number)] = int(packets[0])
    return counts
