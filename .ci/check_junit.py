"""Fail CI when the tests that need real services were skipped instead of run.

A skipped PostgreSQL, Redis, multi-process or browser test looks green in pytest's
summary; here it is a failure, because CI is where those services exist.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

REQUIRED = {
    "PostgreSQL": lambda case: "postgres" in case.get("name", ""),
    "browser": lambda case: (
        "e2e.test_" in case.get("classname", "") and "_page" in case.get("classname", "")
    ),
    "LibreOffice": lambda case: "libreoffice" in case.get("name", ""),
    "crash recovery": lambda case: "test_crash_recovery" in case.get("classname", ""),
    "redelivery": lambda case: "redeliver" in case.get("name", ""),
    "scale-out (several processes)": lambda case: "test_scale_out" in case.get("classname", ""),
    "Redis": lambda case: "redis" in case.get("name", ""),
    "docker compose": lambda case: "docker_compose" in case.get("name", ""),
}


def main(path: str) -> int:
    cases = list(ET.parse(path).getroot().iter("testcase"))
    failed = False
    for label, matches in REQUIRED.items():
        selected = [c for c in cases if matches(c)]
        skipped = [c for c in selected if c.find("skipped") is not None]
        ran = len(selected) - len(skipped)
        print(f"{label}: {ran} ran, {len(skipped)} skipped")
        if not selected or skipped:
            failed = True
            for case in skipped[:5]:
                reason = case.find("skipped")
                message = reason.get("message") if reason is not None else ""
                print(f"  skipped: {case.get('name')}: {message}")
    if failed:
        print("CI requires these tests to run against real services", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
