"""``python -m binvault.admin``: the operator CLI (what the ``binvault-admin`` script runs)."""

import sys

from binvault.admin import main

sys.exit(main())
