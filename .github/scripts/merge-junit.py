"""Merge the junit XML of the shards into one report: python merge-junit.py OUT IN..."""

import sys
import xml.etree.ElementTree as ET

out, inputs = sys.argv[1], sys.argv[2:]
merged = ET.Element("testsuites")
totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in inputs:
    root = ET.parse(path).getroot()
    for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
        suite.set("name", f"{suite.get('name', 'pytest')} ({path})")
        merged.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, 0))
for key, value in totals.items():
    merged.set(key, str(value))
ET.ElementTree(merged).write(out, encoding="utf-8", xml_declaration=True)
print(f"{out}: {totals}")
sys.exit(1 if totals["failures"] or totals["errors"] else 0)
