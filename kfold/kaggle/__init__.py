"""Kaggle: the real client with retries (`client`), the ledger, the submit flow, the planner
and a local stand-in server that speaks the same protocol (`server`)."""
