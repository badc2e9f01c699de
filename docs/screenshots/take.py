"""Takes the README's screenshots (filing.png, case.png, dashboard.png, grid-report-phone.png;
signup-errors.png, signup-code.png, filing-errors.png; room-prejoin.png, room.png) at phone
size (390×844) by running the browser tests with ODR_SCREENSHOTS_DIR pointing here.

    .venv/bin/python docs/screenshots/take.py
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

if __name__ == "__main__":
    env = {**os.environ, "ODR_SCREENSHOTS_DIR": str(HERE)}
    tests = [
        "tests/odr/test_browser_filing.py",
        "tests/odr/test_browser_dashboard.py",
        "tests/odr/test_browser_phone.py",
        "tests/odr/test_browser_grid.py",
        "tests/sessions/test_room_phone.py",
    ]
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", *tests, "-q"], cwd=ROOT, env=env))
