"""Messaging: templates, rendering, compliance decorations, send-time policies, gateways."""
