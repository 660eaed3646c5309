"""The channel-neutral engine: events in, replies out, state in the database.

Nothing under this package imports a platform library (aiogram, telegram, aiohttp);
``tests/test_layers.py`` enforces it.
"""
