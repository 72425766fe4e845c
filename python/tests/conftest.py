"""What the tests share: the command-line binary of this checkout.

CI builds it with `cargo test` before these tests run; `FLOWMINE_BIN` names another one,
and a `CARGO_TARGET_DIR` moves cargo's output, so it is looked for there too.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
BINARY = Path(os.environ.get("FLOWMINE_BIN", _TARGET / "debug" / "flowmine"))
