"""One construct per concern of the home stack (and the per-region callback topic stack).

``service_function`` owns every Lambda default; ``accounts`` mirrors ``functions/accounts``; ``api``
also builds the tenancy authorizer; ``data``, ``events`` and ``workflows`` hold what functions share;
``nag`` holds the cdk-nag and checkov vocabulary.
"""
