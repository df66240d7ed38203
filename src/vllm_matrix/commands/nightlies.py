"""``vllm-matrix nightlies``: the torch nightlies an index has, or what one spec resolves to."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vllm_matrix import texttable
from vllm_matrix.commands import optional_config
from vllm_matrix.errors import InputError
from vllm_matrix.matrix import config
from vllm_matrix.matrix.fields import check_cuda, check_python
from vllm_matrix.matrix.specs import SpecError, parse_torch
from vllm_matrix.nightly import resolve as nightly
from vllm_matrix.nightly.client import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    DEFAULT_TTL_S,
    IndexClient,
    default_cache_dir,
)
from vllm_matrix.nightly.companions import DATED_COMPANIONS
from vllm_matrix.nightly.errors import EXIT_MALFORMED, EXIT_MISSING, EXIT_UNAVAILABLE, NightlyMissing
from vllm_matrix.nightly.listing import DEFAULT_PLATFORM, Listing, NightlyWheel, list_nightlies

EPILOG = f"""\
The index is --index, else the matrix file's [indexes] nightly (when --matrix, $VLLM_MATRIX_FILE
or ./matrix.toml names one), overridden by $VLLM_MATRIX_INDEX_NIGHTLY, else
{config.DEFAULT_INDEXES["nightly"]}.

exit codes:
  0  listed or resolved
  2  bad input: arguments, a date in the future, a range that starts after it ends
  3  the tool itself failed
  {EXIT_UNAVAILABLE}  index unavailable: unreachable, timed out, HTTP error, 404 variant, offline + not cached
  {EXIT_MALFORMED}  index malformed: an empty page, or no wheel file among its links
  {EXIT_MISSING}  nightly missing: no nightly for that date / Python / platform (names the nearest dates)
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "nightlies",
        help="list the torch nightlies on the index, or resolve one spec to exact wheels",
        description="List the dates a CUDA variant of the torch nightly index has, with exact versions "
        "and file URLs; with --torch, resolve one spec (plus pinned triton) or a date range.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cuda", required=True, help="variant, e.g. cu128, cu130, cpu")
    parser.add_argument("--python", default="3.12", help='Python version, "3.13t" for free-threaded (3.12)')
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, help="wheel platform (%(default)s)")
    parser.add_argument("--index", metavar="URL", help="index base URL (see below)")
    parser.add_argument(
        "--torch", metavar="SPEC", help="nightly:latest, nightly:latest~N, nightly:YYYY-MM-DD or nightly:A..B"
    )
    parser.add_argument(
        "--with",
        dest="with_packages",
        action="append",
        default=[],
        choices=DATED_COMPANIONS,
        help="also resolve this package of the same date (with a single --torch spec; repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    _network_options(parser)
    parser.set_defaults(handler=run)


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="read the page cache only, whatever its age")
    parser.add_argument("--cache-dir", type=Path, help=f"page cache (default {default_cache_dir()})")
    parser.add_argument(
        "--ttl", type=float, default=DEFAULT_TTL_S, help="cache time-to-live, s (%(default)g)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per request, s (%(default)g)"
    )
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, help="after a failure (%(default)d)")


def run(args: argparse.Namespace) -> int:
    _check(args)
    client = IndexClient(
        cache_dir=args.cache_dir or default_cache_dir(),
        ttl_s=args.ttl,
        timeout_s=args.timeout,
        retries=max(0, args.retries),
        offline=args.offline,
    )
    index_url = index_for(args)
    spec = args.torch or ""
    if ".." in spec:
        out = _range(args, index_url, client, spec)
    elif spec:
        out = _one(args, index_url, client, spec)
    else:
        out = _listing(args, index_url, client)
    sys.stdout.write(out)
    return 0


def _check(args: argparse.Namespace) -> None:
    """Bad arguments fail before any network access, with exit code 2."""
    try:
        check_cuda(args.cuda)
        check_python(args.python)
    except SpecError as exc:
        raise InputError(str(exc)) from None
    if args.timeout <= 0 or args.ttl < 0:
        raise InputError("--timeout must be positive and --ttl not negative")
    if args.with_packages and (not args.torch or ".." in args.torch):
        raise InputError("--with needs a single --torch spec (not a range)")


def index_for(args: argparse.Namespace) -> str:
    """--index, else the matrix file's nightly index (with its env override), else env or default."""
    if args.index:
        return str(args.index)
    cfg = optional_config(args)
    if cfg is not None:
        return cfg.index("nightly").effective()
    return config.Index("nightly", config.DEFAULT_INDEXES["nightly"]).effective()


def _listing(args: argparse.Namespace, index_url: str, client: IndexClient) -> str:
    listing = _read(args, index_url, client)
    wheels = listing.nightlies()
    if not wheels:
        raise NightlyMissing(_none(listing, args))
    return _render(args, index_url, listing, wheels)


def _range(args: argparse.Namespace, index_url: str, client: IndexClient, spec: str) -> str:
    start, end = nightly.parse_range(spec)
    nightly.select_range(start, end, (), nightly.utc_today())
    listing = _read(args, index_url, client)
    wheels = nightly.select_range(start, end, listing.nightlies())
    if not wheels:
        raise NightlyMissing(f"{args.cuda} has no nightly between {start} and {end}")
    return _render(args, index_url, listing, wheels)


def _one(args: argparse.Namespace, index_url: str, client: IndexClient, spec: str) -> str:
    try:
        parsed = parse_torch(spec)
    except SpecError as exc:
        raise InputError(f"--torch: {exc}") from None
    resolved = nightly.resolve_torch(
        parsed,
        args.cuda,
        args.python,
        index_url,
        platform=args.platform,
        client=client,
        with_packages=args.with_packages,
    )
    if args.json:
        return json.dumps(resolved.to_dict(), indent=1) + "\n"
    lines = [f"{w.requirement}  {w.url}" for w in (resolved.torch, *resolved.companions)]
    if not resolved.metadata_read:
        lines.append("(the index advertises no .whl.metadata for this wheel: pinned triton not looked up)")
    return "\n".join(lines) + "\n"


def _read(args: argparse.Namespace, index_url: str, client: IndexClient) -> Listing:
    listing = list_nightlies(args.cuda, args.python, index_url, platform=args.platform, client=client)
    if listing.malformed:
        shown = "; ".join(listing.malformed[:3]) + ("; ..." if len(listing.malformed) > 3 else "")
        print(
            f"vllm-matrix: warning: {listing.page_url}: skipped {len(listing.malformed)} "
            f"malformed anchors ({shown})",
            file=sys.stderr,
        )
    return listing


def _none(listing: Listing, args: argparse.Namespace) -> str:
    return (
        f"{args.cuda} lists no torch nightly for Python {args.python} on {args.platform} "
        f"({listing.on_page} wheels on {listing.page_url})"
    )


def _render(args: argparse.Namespace, index_url: str, listing: Listing, wheels: list[NightlyWheel]) -> str:
    if args.json:
        return json.dumps(_as_json(args, index_url, listing, wheels), indent=1) + "\n"
    out = texttable.render([(str(w.date), w.version, w.url) for w in wheels])
    out.append(
        f"{len(wheels)} nightlies for {args.cuda}, Python {args.python}, {args.platform} ({index_url})"
    )
    return "\n".join(out) + "\n"


def _as_json(
    args: argparse.Namespace, index_url: str, listing: Listing, wheels: list[NightlyWheel]
) -> dict[str, Any]:
    return {
        "index_url": index_url,
        "page_url": listing.page_url,
        "cuda": args.cuda,
        "python": args.python,
        "platform": args.platform,
        "nightlies": [w.to_dict() for w in wheels],
        "malformed": list(listing.malformed),
    }
