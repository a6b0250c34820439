"""The project's own packaging (issue #8 §5): the README's first command installs without a warning
from it. setuptools warns about a ``license`` table; an SPDX string needs setuptools >= 77 (PEP 639)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_license_is_an_spdx_expression_that_the_build_backend_reads() -> None:
    project = tomllib.loads(PYPROJECT.read_text())
    assert project["project"]["license"] == "Apache-2.0"
    requires = project["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    match = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools.replace(" ", ""))
    assert match is not None and int(match.group(1)) >= 77
    # No deprecated classifiers beside an SPDX license (setuptools refuses both together).
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
