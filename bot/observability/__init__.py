"""What an operator watches: Prometheus metrics, liveness and readiness, JSON logs.

Kept out of ``bot/core``: the dispatcher, the delivery worker and the scheduler only
call plain callbacks (``observe``, ``on_result``, ``on_report``); ``bot/app.py`` wires
them to this package's ``Metrics`` and adds the HTTP routes.
"""
