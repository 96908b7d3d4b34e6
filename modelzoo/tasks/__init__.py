"""One module per kind of recipe: a `Task` (see `base.py`) and its `run`.

`base.run_task` is the flow they share: data → fit → evaluate → export.
"""
