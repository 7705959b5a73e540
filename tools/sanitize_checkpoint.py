"""Re-save a trusted checkpoint with tensors and plain values only, so it loads weights_only.

Usage: python tools/sanitize_checkpoint.py IN.pth OUT.pth
"""

import argparse
import logging

from maskrcnn_benchmark.utils.checkpoint import sanitize_checkpoint_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", help="checkpoint you trust (it is unpickled)")
    parser.add_argument("dst", help="where to write the sanitized copy")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    dropped = sanitize_checkpoint_file(args.src, args.dst)
    logging.info("wrote %s; dropped entries: %s", args.dst, dropped or "none")


if __name__ == "__main__":
    main()
