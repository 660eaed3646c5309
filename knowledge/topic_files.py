"""Reading a folder of topic files (``faq/*.yaml``, ``quiz/*.yaml``): one YAML document
per topic, keyed by the file's stem, so problems can name the topic they are in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_topic_files(directory: Path) -> dict[str, Any]:
    files = {}
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            files[path.stem] = yaml.safe_load(fh)
    return files
