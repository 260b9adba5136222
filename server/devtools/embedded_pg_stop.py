"""Stop an embedded PostgreSQL that outlived the server that started it.

`scripts/dev` runs this after the server has exited, as a last resort (the
server stops it itself unless it was killed). A PostgreSQL that another live
process still uses is left alone.

    python -m server.devtools.embedded_pg_stop DATA_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

from server.core.embedded_pg import stop_orphaned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args()
    if stop_orphaned(args.data_dir):
        print(f"dev: stopped the embedded PostgreSQL left running under {args.data_dir}")


if __name__ == "__main__":
    main()
