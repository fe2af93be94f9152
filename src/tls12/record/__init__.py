"""The record layer: framing, size limits, protection and handshake reassembly. Never imports handshake."""
