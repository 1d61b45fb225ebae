"""Org-scoped secrets: envelope encryption under KMS, bound to org id, secret name and version."""
