"""Data and retrieval the bot answers from: the matter table (法治账图), FAQ entries
and the statute texts they cite. Importable without the bot runtime."""
