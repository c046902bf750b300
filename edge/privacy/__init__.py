"""Privacy by construction: the runtime guard, k-suppression, DP noise and the manifest.

See PRIVACY.md at the repository root for the threat model and what each layer
guarantees and does not.
"""
