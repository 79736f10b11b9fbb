"""agent-bruno for the lab: the real agent-bruno's interface (brunovlucena/homelab) as a small service.

Sessions in Redis (one list of turns per client IP), every turn in MongoDB `agent_bruno.conversations`,
answers from an Ollama API (`agent_bruno.ollama_stub` in the lab). Run: `PYTHONPATH=lab python -m agent_bruno`.
README.md beside this file: the interface, and where the lab differs from the real app.
"""

__version__ = "0.1.0"
