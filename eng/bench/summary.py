#!/usr/bin/env python3
"""Writes the summary section of docs/benchmarks.md: every target row of the generated sections, one table.

A target row is a row of a Markdown table (inside a generated section) whose header has a "met" column; the summary
shows its first column, its ratio or measured column, its target and whether it was met.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sections  # noqa: E402

DOC = "docs/benchmarks.md"
SECTIONS = [("codec", "Codec"), ("relay", "TCP relay"), ("http", "HTTP and middleware"),
            ("routing", "Routing (SNI, Host)"), ("udp", "UDP (DNS)")]
PROFILES = [("docs/performance-tcp-profile.md", "TCP relay profile"), ("docs/performance-http-profile.md", "HTTP route profile")]


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def target_rows(body):
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1].strip()):
            header = [h.lower() for h in cells(lines[i])]
            i += 2
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            if "met" not in header:
                continue
            met = header.index("met")
            target = next((k for k, h in enumerate(header) if h.startswith("target")), None)
            value = next((k for k, h in enumerate(header) if "/" in h or "ratio" in h or "÷" in h or h == "measured"), None)
            for r in rows:
                if len(r) == len(header):
                    yield r[0], (r[value] if value is not None else ""), (r[target] if target is not None else ""), r[met]
        else:
            i += 1


def main():
    out = ["## Summary: every target", ""]
    out.append("Collected from the sections below (medians of one run of each script; see each section for the")
    out.append("machine, the date and the command that reproduces it).")
    out.append("")
    out.append("| area | figure | measured | target | met |")
    out.append("|---|---|---:|---:|:---:|")
    total = met_count = 0
    for name, title in SECTIONS:
        body = sections.section(DOC, name)
        if body is None:
            out.append(f"| {title} | section not generated yet | | | |")
            continue
        rows = list(target_rows(body))
        allocations = [r for r in rows if r[0].endswith("allocates 0 B")]
        if len(allocations) > 1:
            # One line for the codec's allocation checks.
            rows = [r for r in rows if r not in allocations]
            all_zero = all(r[3].strip().lower() == "yes" for r in allocations)
            rows.append((f"{len(allocations)} parse/write benchmarks allocate 0 B", "0 B" if all_zero else "see below", "0 B",
                         "yes" if all_zero else "no"))
        for figure, value, target, met in rows:
            total += 1
            met_count += met.strip().lower() == "yes"
            out.append(f"| {title} | {figure} | {value} | {target} | {met} |")
    out.append("")
    out.append(f"{met_count} of {total} targets met in these runs.")
    present = [(p, t) for p, t in PROFILES if os.path.exists(p)]
    if present:
        out.append("Where a target is not met, the profiles show where the time goes and what was tried: "
                   + ", ".join(f"[{t}]({os.path.basename(p)})" for p, t in present) + ".")
    sections.replace(DOC, "summary", "\n".join(out))
    print(f"summary.py: {met_count} of {total} targets met")


if __name__ == "__main__":
    main()
