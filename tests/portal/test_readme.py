"""The README opens with the two commands and documents every setting settings.py reads."""

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_readme_starts_with_the_two_commands():
    lines = [line.strip() for line in (BASE_DIR / "README.md").read_text().splitlines() if line.strip()]
    assert lines[0].startswith("make run")
    assert lines[1].startswith("make test")


def test_readme_configuration_lists_every_variable_settings_reads():
    settings_source = (BASE_DIR / "portal" / "settings.py").read_text()
    names = set(re.findall(r'env\.get_\w+\(\s*"([A-Z0-9_]+)"', settings_source))
    assert {"DATABASE_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS"} <= names
    readme = (BASE_DIR / "README.md").read_text()
    missing = sorted(name for name in names if f"| `{name}` |" not in readme)
    assert missing == [], f"README configuration table lacks: {missing}"


def test_architecture_notes_exist_and_the_readme_points_to_them():
    assert (BASE_DIR / "docs" / "architecture.md").exists()
    assert "docs/architecture.md" in (BASE_DIR / "README.md").read_text()
