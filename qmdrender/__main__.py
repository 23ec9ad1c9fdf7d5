import sys

from qmdrender.core import main

sys.exit(main())
