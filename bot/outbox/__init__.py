"""The transactional outbox: enqueue in the caller's transaction, deliver in a worker."""
