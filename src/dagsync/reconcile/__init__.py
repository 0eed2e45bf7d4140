"""The reconciler: desired state from the model, observed state from hosts, a plan, an apply.

Desired state (`desired.py`), observed facts (`facts.py` + each resource's parser) and the
diff are plain data computed without I/O; only executors (`session.py` over `ssh.py`) touch
the world.  Resource kinds are listed once, in `registry.py`.
"""
