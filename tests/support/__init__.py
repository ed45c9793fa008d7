"""Test support: emulator lifecycles, test identities (keys, JWKS, certs, GitHub API), processes."""
