"""agent-bruno: the lab's sample LLM chat agent (sessions in Redis, archived conversations in MongoDB).

A small real service, run as a local process: `PYTHONPATH=lab python -m agent_bruno`. See README.md
beside this file for its configuration, storage format, metrics and lab knobs.
"""

__version__ = "0.1.0"
