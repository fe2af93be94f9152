"""Adapters over pyca/cryptography. No TLS state lives here."""
