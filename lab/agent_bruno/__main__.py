"""`python -m agent_bruno` (with lab/ on sys.path) runs the service until SIGTERM/SIGINT (then exit 0)."""

import sys

from agent_bruno.server import main

if __name__ == "__main__":
    sys.exit(main())
