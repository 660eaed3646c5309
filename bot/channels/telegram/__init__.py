"""Telegram: two adapters (aiogram 3, python-telegram-bot 22) over one shared half.

``common.py`` reads updates, renders replies, polls; ``aiogram_channel.py`` and
``ptb_channel.py`` wrap their library; ``webhook.py`` is the route on the web server.
The operator picks the library with ``LINLI_TELEGRAM_LIBRARY`` (aiogram | ptb); only the
chosen library is imported.
"""
