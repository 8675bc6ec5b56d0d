"""``python -m cli``: the ``lifegate-archive`` command from a source tree."""

from __future__ import annotations

import sys

from cli import main

sys.exit(main())
