"""The HTTP ingress: authenticate, rate-limit, validate, charge, enqueue, wait, respond.

Never imports model or pipeline code; it reaches the workers through :mod:`workers.contract`
and the Celery app alone.
"""
