"""``python -m ocpp_station.locust [LOCUST OPTIONS]``: Locust with the package's locustfile.

``--path`` prints the locustfile's path instead (for ``locust -f``). Everything else goes to Locust.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def main(argv: list[str]) -> None:
    if argv == ["--path"]:
        print(LOCUSTFILE)
        return
    os.execv(sys.executable, [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
