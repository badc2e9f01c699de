"""The ASGI entry point leaves the loaded application out of the collector's full
collections (config.asgi.freeze_startup_heap, issue 14): a full collection over the
~240,000 objects of the loaded application took 100–150 ms on this machine and was the
court queue's p95. Its views are imported before the freeze, not at the first request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, json, sys
import config.asgi
print(json.dumps({"frozen": gc.get_freeze_count(), "views": "odr.views.lists" in sys.modules}))
"""


def test_the_asgi_application_is_frozen_out_of_full_collections_with_its_views_loaded():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env |= {"DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["views"] is True
    assert out["frozen"] > 50_000, out
