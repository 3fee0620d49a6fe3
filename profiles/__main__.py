"""``python -m profiles``: list presets, sketch one, or regenerate docs/profiles.md's catalogue.

python -m profiles list
python -m profiles sketch viral variant=severe time_scale=60
python -m profiles docs --write docs/profiles.md      (or --check docs/profiles.md)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from profiles.base import ProfileError
from profiles.catalog import update_document
from profiles.loader import available, load
from profiles.overrides import parse_params
from profiles.sketch import ascii_curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m profiles")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="preset names")
    sketch = sub.add_parser("sketch", help="ASCII curve of a preset or TOML file")
    sketch.add_argument("profile")
    sketch.add_argument("params", nargs="*", help="overrides, key=value")
    docs = sub.add_parser("docs", help="regenerate the preset catalogue block")
    group = docs.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(available()))
        elif args.command == "sketch":
            profile = load(args.profile, **parse_params(",".join(args.params)))
            print(ascii_curve(profile))
        else:
            path: Path = args.write or args.check
            text = path.read_text(encoding="utf-8")
            new = update_document(text)
            if args.check:
                if new != text:
                    print(f"{path} is stale: run python -m profiles docs --write {path}")
                    return 1
            else:
                path.write_text(new, encoding="utf-8")
    except ProfileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
