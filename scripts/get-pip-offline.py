"""Offline stand-in for get-pip.py, which ansible-test downloads to bootstrap pip into its sanity venvs.

That download comes from a host this machine cannot reach. This does the same job from what is here:
pip from the standard library's bundled wheel (ensurepip), then `pip install` of the packages
ansible-test asked for (pinned pip and friends) from the package index.
"""

import subprocess
import sys

# In a child process: ensurepip blanks PIP_CONFIG_FILE in its own environment, which would drop the
# machine's pip configuration (CA bundle, mirrors) for the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
# get-pip.py's own flags, which pip itself does not know.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
