"""Completion callbacks: who may be called (address_policy), how a POST is signed (signing),
what an attempt's answer leads to (attempts) and how a delivery is asked for (enqueue)."""
