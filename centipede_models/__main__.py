"""`python -m centipede_models --legs 10 [--crippled] [-o FILE]`: write a centipede's MJCF."""

import argparse
import sys
from pathlib import Path

from centipede_models.generator import make_centipede, model_name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m centipede_models", description=__doc__)
    parser.add_argument("--legs", type=int, required=True, help="number of legs (even, >= 4)")
    parser.add_argument("--crippled", action="store_true", help="remove the four motors of legs 0 and 1")
    parser.add_argument("-o", "--output", type=Path, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    try:
        xml = make_centipede(args.legs, args.crippled)
    except ValueError as err:
        parser.error(str(err))
    if args.output:
        args.output.write_text(xml)
        print(f"wrote {model_name(args.legs, args.crippled)} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(xml)
    return 0


if __name__ == "__main__":
    sys.exit(main())
