"""The releases domain: a git push builds in the customer's account and rolls the stack out (DESIGN.md,
workflow 3). Laid out as functions/README.md says."""
