"""Rolling out new code under a running fleet: build ids, versioning, replay gate, timeouts."""
