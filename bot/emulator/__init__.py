"""A local Telegram Bot API emulator: the simulated Telegram (``world``) and its HTTP
server (``server``). Used by the Telegram tests, the benchmarks and ``linli telegram
emulator``; it binds to 127.0.0.1 only."""
