"""Test helpers have one home: tests/support/. Everything else under tests/ is a test module,
a conftest (fixtures only) or a package marker, so a helper is found where the next one goes."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ALLOWED_NAMES = ("conftest.py", "__init__.py")


def test_helper_modules_live_in_tests_support() -> None:
    misplaced = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if "support" not in path.relative_to(TESTS).parts[:1]
        and path.name not in ALLOWED_NAMES
        and not path.name.startswith("test_")
    ]
    assert misplaced == [], f"helpers outside tests/support: {misplaced}"


def test_no_test_module_imports_another_test_module() -> None:
    """A test module's names are its own: what two test files share is a helper."""
    offenders = []
    for path in TESTS.rglob("test_*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("from tests.", "import tests.")):
                module = stripped.split()[1]
                if module.rsplit(".", 1)[-1].startswith(("test_", "conftest")):
                    offenders.append(f"{path.relative_to(TESTS)}: {stripped}")
    assert offenders == [], offenders
