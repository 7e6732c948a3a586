"""Licenses as SBOMs write them, normalised to SPDX only where that is certain, and the license
policy that turns them into findings.

SPDX ids and expressions are read with ``license-expression`` against the SPDX license list it
ships (offline); deprecated ids become their SPDX meaning (``GPL-2.0`` is ``GPL-2.0-only``).
Free names and Python trove classifiers are mapped only when they name exactly one license:
``License :: OSI Approved :: BSD License`` names no variant and stays unnormalised.
"""

from __future__ import annotations

import functools
import re
from enum import IntEnum

from license_expression import (
    AND,
    OR,
    ExpressionError,
    LicenseWithExceptionSymbol,
    Licensing,
    get_spdx_licensing,
)

from graph_api.settings import LicensePolicy
from graph_api.store import LicenseStatement

_SPACES = re.compile(r"\s+")
# User-defined SPDX references are valid in any SPDX expression without being on the list.
_USER_REFS = ("licenseref-", "documentref-")

# Names that mean exactly one SPDX license, lower-cased with spaces collapsed. Trove classifiers
# that name a family ("BSD License", "Apache Software License", "GNU General Public License v3
# (GPLv3)" without "or later"/"only") are deliberately absent.
CERTAIN_NAMES: dict[str, str] = {
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit license (mit)": "MIT",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "the apache software license, version 2.0": "Apache-2.0",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd license": "BSD-3-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "2-clause bsd license": "BSD-2-Clause",
    "simplified bsd license": "BSD-2-Clause",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "mozilla public license 2.0": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "the unlicense": "Unlicense",
    "the unlicense (unlicense)": "Unlicense",
    "eclipse public license 2.0": "EPL-2.0",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "european union public licence 1.2 (eupl 1.2)": "EUPL-1.2",
    "historical permission notice and disclaimer (hpnd)": "HPND",
    "zope public license": "ZPL-2.1",
}
_CLASSIFIER = re.compile(r"^license\s*::\s*(?:osi approved\s*::\s*)?", re.IGNORECASE)


@functools.cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


def _collapsed(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


@functools.lru_cache(maxsize=4096)
def spdx_expression(text: str) -> str | None:
    """The SPDX expression ``text`` certainly means, or None.

    Example:
        >>> spdx_expression("License :: OSI Approved :: MIT License")
        'MIT'
        >>> spdx_expression("License :: OSI Approved :: BSD License") is None
        True
    """
    raw = _collapsed(text)
    if not raw:
        return None
    try:
        info = _licensing().validate(raw)
    except (ExpressionError, AttributeError):
        # license-expression 30.4 fails inside validate() on characters no key may contain
        # ("MIT/Apache-2.0"); such text is no SPDX expression.
        info = None
    if info is not None:
        if not info.errors and info.normalized_expression:
            return str(info.normalized_expression)
        if info.invalid_symbols and all(
            str(symbol).lower().startswith(_USER_REFS) for symbol in info.invalid_symbols
        ):
            return raw
    name = _CLASSIFIER.sub("", raw).lower()
    return CERTAIN_NAMES.get(name)


def statement(text: str) -> LicenseStatement:
    """The raw text and, when certain, its SPDX expression."""
    return LicenseStatement(raw=text, expression=spdx_expression(text))


def combined(statements: list[LicenseStatement]) -> str | None:
    """One expression for all statements of a package (all of them apply, so AND); None when
    any of them is not certain."""
    expressions = [s.expression for s in statements]
    if not expressions or any(e is None for e in expressions):
        return None
    unique = list(dict.fromkeys(e for e in expressions if e))
    if len(unique) == 1:
        return unique[0]
    return " AND ".join(f"({e})" if " " in e else e for e in unique)


class Verdict(IntEnum):
    """Ordered from worst: an AND takes the worst of its parts, an OR the best."""

    DENIED = 0
    REVIEW = 1
    ALLOWED = 2


def _listed(values: list[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


def verdict(expression: str | None, policy: LicensePolicy) -> Verdict:
    """What the policy says of a license expression; an unknown license is to be reviewed.

    Example:
        >>> verdict("MIT OR GPL-3.0-only", LicensePolicy(allowed=["MIT"], denied=["GPL-3.0-only"]))
        <Verdict.ALLOWED: 2>
    """
    if expression is None:
        return Verdict.REVIEW
    try:
        parsed = _licensing().parse(expression)
    except ExpressionError:
        return Verdict.REVIEW
    allowed, denied, review = map(_listed, (policy.allowed, policy.denied, policy.review))

    def judge(node: object) -> Verdict:
        if isinstance(node, OR):
            return max(judge(arg) for arg in node.args)
        if isinstance(node, AND):
            return min(judge(arg) for arg in node.args)
        names = {str(node).lower()}
        if isinstance(node, LicenseWithExceptionSymbol):
            names.add(str(node.license_symbol).lower())
        if names & denied:
            return Verdict.DENIED
        if names & review:
            return Verdict.REVIEW
        if names & allowed or not allowed:
            return Verdict.ALLOWED
        return Verdict.REVIEW

    return judge(parsed)
