"""Every {% static %} file a template names exists: with DEBUG off (the demo, production) a
missing one is a 500 ("Missing staticfiles manifest entry"), which DEBUG on hides."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")


def test_every_static_file_named_in_a_template_exists():
    missing = []
    for template in (ROOT / "templates").rglob("*.html"):
        for name in STATIC.findall(template.read_text()):
            if not (ROOT / "static" / name).exists():
                missing.append(f"{template.relative_to(ROOT)}: {name}")
    assert missing == []
