"""Celery workers and the image pipeline (decode → segment → refine → shadow → encode).

Only this package loads models or imports onnxruntime; the API reaches it through
:mod:`workers.contract` alone.
"""
