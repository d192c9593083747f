"""Makes the package and the image helpers importable without installing."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
for p in (HERE.parent, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
