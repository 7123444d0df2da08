"""Callbacks in from gateways: delivery receipts and inbound SMS replies (STOP, 退订, START)."""
