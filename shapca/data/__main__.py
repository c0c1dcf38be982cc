"""Command line of the data layer: fetch, stats, images (one function per subcommand).

    python -m shapca.data fetch [--datasets twitter2015 mnre ...] [--mirror DIR] [--cache DIR]
    python -m shapca.data stats [--datasets ...] [--mirror DIR] [--cache DIR]
    python -m shapca.data images --encoder NAME --images DIR --out FILE [--batch-size N]
"""
from __future__ import annotations

import argparse
import sys

from shapca.data.image_files import add_images_arguments
from shapca.data.types import DATASETS


def _add_location(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mirror", default=None, help="local folder with the <owner>/<name>/<path> layout "
                   "(default: env SHAPCA_DATA_MIRROR; unset means download from GitHub)")
    p.add_argument("--cache", default=None, help="download and extraction folder "
                   "(default: env SHAPCA_CACHE, else ~/.cache/shapca)")
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS), metavar="DATASET",
                   help=f"any of {', '.join(DATASETS)} (default: all)")


def main_fetch(args: argparse.Namespace) -> int:
    from shapca.data.fetch import fetch

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    paths = fetch(args.datasets, args.mirror, args.cache, log=log)
    print(f"{len(paths)} files present and verified for {', '.join(args.datasets)}")
    return 0


def main_stats(args: argparse.Namespace) -> int:
    from shapca.data.stats import report
    print(report(args.datasets, args.mirror, args.cache))
    return 0


def main_images_entry(args: argparse.Namespace) -> int:
    from shapca.data.images import main_images  # written by the image-sources work (shapca/data/images.py)
    return main_images(args) or 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shapca.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="download (or find in the mirror) and verify every upstream file")
    _add_location(p)
    p.set_defaults(func=main_fetch)
    p = sub.add_parser("stats", help="counts and context coverage per dataset and split")
    _add_location(p)
    p.set_defaults(func=main_stats)
    p = sub.add_parser("images", help="precompute image features once, so training never re-encodes images")
    add_images_arguments(p)
    p.set_defaults(func=main_images_entry)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
