"""The operators' dashboard under ``/admin``: the ledger, case timelines, statistics."""
