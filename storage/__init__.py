"""The shared lower layer: settings, database, ledger, API keys, jobs and object storage.

Imports neither ``api`` nor ``workers``; both of them build on it.
"""
