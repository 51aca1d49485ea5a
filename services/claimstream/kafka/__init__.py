"""Kafka plumbing: clients and topics (clients.py), dead letters (deadletters.py)."""
