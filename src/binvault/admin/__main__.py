"""``python -m binvault.admin``: the operator CLI (the same as ``binvault-admin``)."""

import sys

from binvault.admin import main

sys.exit(main())
