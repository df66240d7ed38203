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
``--in-process`` calls ``vllm_matrix.classify.engine`` directly instead of the
CLI (the same answers, about 50 times faster; it needs vllm_matrix importable).
The pytest test (tests/harness/test_corpus.py) and benchmarks/bench_classify.py
import ``load_entries``, ``classify_in_process``, ``judge`` and ``score``.

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


def load_entries(split: str = "all") -> list[dict]:
    """The [[log]] entries of index.toml, all of them or one split ("dev", "test")."""
    entries = tomllib.loads((HERE / "index.toml").read_text(encoding="utf-8"))["log"]
    return entries if split == "all" else [e for e in entries if e["split"] == split]


def log_path(entry: dict) -> Path:
    return HERE / "logs" / f"{entry['id']}.log"


def classify_in_process(entry: dict, catalogues: list[str] | tuple[str, ...] = ()) -> dict:
    """The diagnosis of one entry from the engine in this process, as the CLI's JSON would be."""
    from vllm_matrix.classify import engine

    cats = [Path(c) for c in catalogues]
    return engine.classify_file(log_path(entry), entry["stage"], cats).to_dict()


def classify(entry: dict, repo: Path, catalogues: list[str]) -> dict:
    """Run the CLI on one entry; return its parsed JSON (or an "error" key)."""
    log = log_path(entry)
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


def score(split: str, entries: list[dict], results: list[dict]) -> dict:
    """Per-class and overall figures, and the misses, of ``results`` (one per entry)."""
    rows = [
        dict(
            id=e["id"],
            split=e["split"],
            expected=e["klass"],
            stage=e["stage"],
            decisive=e["decisive"],
            **judge(e, r),
        )
        for e, r in zip(entries, results, strict=True)
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
    return {
        "split": split,
        "total": n,
        "class_correct": c_ok,
        "decisive_correct": d_ok,
        "class_accuracy": c_ok / n if n else None,
        "decisive_accuracy": d_ok / n if n else None,
        "per_class": {
            k: {"n": v[0], "class_correct": v[1], "decisive_correct": v[2]} for k, v in sorted(per.items())
        },
        "misses": [
            {
                k: r[k]
                for k in ("id", "split", "expected", "got", "class_ok", "decisive_ok", "decisive", "evidence")
            }
            for r in misses
        ],
    }


def table(report: dict) -> list[str]:
    """The per-class table of a ``score`` report, as lines."""
    out = [f"{'class':30} {'n':>3} {'class':>7} {'decisive':>9}"]
    for k, v in report["per_class"].items():
        out.append(
            f"{k:30} {v['n']:3} {pct(v['class_correct'], v['n']):>7} {pct(v['decisive_correct'], v['n']):>9}"
        )
    n = report["total"]
    out.append(
        f"{'OVERALL':30} {n:3} {pct(report['class_correct'], n):>7} {pct(report['decisive_correct'], n):>9}"
    )
    return out


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
    ap.add_argument("--in-process", action="store_true", help="call the engine here instead of the CLI")
    ap.add_argument(
        "--show-misses",
        action="store_true",
        help="also list the test part's misses (hidden by default, so that it stays unseen while tuning)",
    )
    args = ap.parse_args(argv)

    entries = load_entries(args.split)
    if args.in_process:
        results = [classify_in_process(e, args.catalogue) for e in entries]
    else:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda e: classify(e, args.repo, args.catalogue), entries))
    report = score(args.split, entries, results)
    hidden = 0
    if args.split != "dev" and not args.show_misses:
        shown = [m for m in report["misses"] if m["split"] == "dev"]
        hidden, report["misses"] = len(report["misses"]) - len(shown), shown
    if args.json:
        print(json.dumps(report, indent=1))
        return 0

    print(f"split: {args.split}   entries: {report['total']}")
    print("\n".join(table(report)))
    misses = report["misses"]
    if hidden:
        print(f"\ntest-part misses hidden: {hidden} (the test part stays unseen; --show-misses lists them)")
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
