"""`python -m bench.signaling`: see bench/signaling/run.py."""

import sys

from bench.signaling.run import main

sys.exit(main())
