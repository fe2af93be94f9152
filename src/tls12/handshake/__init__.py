"""The handshake state machines, one class per state; client and server in separate modules."""
