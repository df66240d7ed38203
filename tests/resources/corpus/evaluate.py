#!/usr/bin/env python3
"""Measure `vllm-matrix classify` on the real-log corpus.

For every [[log]] of index.toml (optionally one split) this runs

    python3 -m vllm_matrix classify logs/<id>.log --stage <stage> --json

with PYTHONPATH=<repo>/src and compares the JSON it prints with the entry:

* class:    right when the diagnosed "class" equals `klass`. For a note class
            (TORCH_PIN_WARN) it is right when a note "TORCH_PIN_WARN: ..." was
            reported, whatever the failure class.
* decisive: right when the expected decisive line appears among the evidence
            lines (for a note class: among the notes, without the "NAME: "
            prefix), both compared after removing ANSI codes and stripping
            whitespace.

Prints per-class and overall accuracy and a table of misses; --json prints the
same as one JSON object instead. Standard library only (Python 3.11+).

    python3 tests/resources/corpus/evaluate.py --split dev
    python3 tests/resources/corpus/evaluate.py --split test --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
NOTE_CLASSES = {"TORCH_PIN_WARN"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def norm(line: str) -> str:
    return ANSI.sub("", line).strip()


def classify(entry: dict, repo: Path, catalogues: list[str]) -> dict:
    """Run the CLI on one entry; return its parsed JSON (or an "error" key)."""
    log = HERE / "logs" / f"{entry['id']}.log"
    cmd = [sys.executable, "-m", "vllm_matrix", "classify", str(log), "--stage", entry["stage"], "--json"]
    for cat in catalogues:
        cmd += ["--catalogue", cat]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo, timeout=120)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0]}"}


def judge(entry: dict, result: dict) -> dict:
    expected, decisive = entry["klass"], norm(entry["decisive"])
    if "error" in result:
        return {"got": "ERROR", "class_ok": False, "decisive_ok": False, "evidence": [result["error"]]}
    got = result.get("class", result.get("klass", "?"))
    evidence = [norm(e) for e in result.get("evidence", [])]
    notes = [norm(n) for n in result.get("notes", [])]
    if expected in NOTE_CLASSES:
        mine = [n.split(":", 1)[1].strip() for n in notes if n.startswith(expected + ":")]
        return {
            "got": expected if mine else got,
            "class_ok": bool(mine),
            "decisive_ok": decisive in mine,
            "evidence": mine or evidence,
        }
    return {
        "got": got,
        "class_ok": got == expected,
        "decisive_ok": decisive in evidence,
        "evidence": evidence,
    }


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:5.1f}%" if d else "   - "


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument(
        "--repo", type=Path, default=REPO, help="repository whose src/ is classified (default: this one)"
    )
    ap.add_argument("--catalogue", action="append", default=[], help="extra catalogue file passed to the CLI")
    ap.add_argument("--jobs", type=int, default=8)
    args = ap.parse_args(argv)

    entries = tomllib.loads((HERE / "index.toml").read_text(encoding="utf-8"))["log"]
    if args.split != "all":
        entries = [e for e in entries if e["split"] == args.split]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda e: classify(e, args.repo, args.catalogue), entries))

    rows = [
        dict(id=e["id"], expected=e["klass"], stage=e["stage"], decisive=e["decisive"], **judge(e, r))
        for e, r in zip(entries, results)
    ]
    per = defaultdict(lambda: [0, 0, 0])  # n, class_ok, decisive_ok
    for r in rows:
        p = per[r["expected"]]
        p[0] += 1
        p[1] += r["class_ok"]
        p[2] += r["decisive_ok"]
    n = len(rows)
    c_ok = sum(r["class_ok"] for r in rows)
    d_ok = sum(r["decisive_ok"] for r in rows)
    misses = [r for r in rows if not (r["class_ok"] and r["decisive_ok"])]

    if args.json:
        print(
            json.dumps(
                {
                    "split": args.split,
                    "total": n,
                    "class_correct": c_ok,
                    "decisive_correct": d_ok,
                    "class_accuracy": c_ok / n if n else None,
                    "decisive_accuracy": d_ok / n if n else None,
                    "per_class": {
                        k: {"n": v[0], "class_correct": v[1], "decisive_correct": v[2]}
                        for k, v in sorted(per.items())
                    },
                    "misses": [
                        {
                            k: r[k]
                            for k in (
                                "id",
                                "expected",
                                "got",
                                "class_ok",
                                "decisive_ok",
                                "decisive",
                                "evidence",
                            )
                        }
                        for r in misses
                    ],
                },
                indent=1,
            )
        )
        return 0

    print(f"split: {args.split}   entries: {n}")
    print(f"{'class':30} {'n':>3} {'class':>7} {'decisive':>9}")
    for k, (cnt, co, do) in sorted(per.items()):
        print(f"{k:30} {cnt:3} {pct(co, cnt):>7} {pct(do, cnt):>9}")
    print(f"{'OVERALL':30} {n:3} {pct(c_ok, n):>7} {pct(d_ok, n):>9}")
    if misses:
        print(f"\nmisses ({len(misses)}):")
        print(f"{'id':32} {'expected':28} {'got':28} class decisive")
        for r in misses:
            print(
                f"{r['id']:32} {r['expected']:28} {r['got']:28} {'ok' if r['class_ok'] else '--':5} "
                f"{'ok' if r['decisive_ok'] else '--'}"
            )
            if not r["decisive_ok"]:
                print(f"    want: {r['decisive'][:160]}")
                print(f"    got:  {(r['evidence'][0] if r['evidence'] else '(no evidence)')[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
