"""The image pipeline as pure functions over numpy arrays: no servers, no globals.

``decode → segment → refine → cut out → shadow → encode``;
:func:`workers.pipeline.run.remove_background` strings them together and times each stage.
"""
