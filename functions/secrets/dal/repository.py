"""DynamoDB adapter of the secrets store: each write commits with its audit entry, or not at all."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from functions.secrets.dal.models import SecretModel
from functions.secrets.exceptions import SecretConflict, SecretNotFound
from functions.secrets.models.secret import SealedSecret, SecretMetadata
from functions.secrets.settings import SecretsSettings
from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict, Writes
from functions.shared.dal.dynamo import bind
from functions.shared.models.audit import AuditDraft

_METADATA = tuple(SecretMetadata.model_fields)
_SEALED = ("key_id", "encrypted_data_key", "nonce", "ciphertext")


def configure_from(settings: SecretsSettings) -> None:
    bind(settings.aws_region, {SecretModel: settings.secrets_table})
    audit_store.configure_from(settings)


class DynamoSecretStore:
    def __init__(self, audit: DynamoAuditLog) -> None:
        self._audit = audit

    def get(self, org_id: str, name: str) -> tuple[SecretMetadata, SealedSecret] | None:
        try:
            item = SecretModel.get(org_id, name, consistent_read=True)
        except DoesNotExist:
            return None
        metadata = SecretMetadata.model_validate({f: getattr(item, f) for f in _METADATA})
        sealed = SealedSecret.model_validate(
            {
                "org_id": org_id,
                "name": name,
                "version": item.version,
                **{f: getattr(item, f) for f in _SEALED},
            }
        )
        return metadata, sealed

    def list(self, org_id: str) -> list[SecretMetadata]:
        attributes = list(_METADATA)  # never read the ciphertexts to list names
        return [
            SecretMetadata.model_validate({f: getattr(item, f) for f in _METADATA})
            for item in SecretModel.query(org_id, attributes_to_get=attributes, consistent_read=True)
        ]

    def put(
        self, metadata: SecretMetadata, sealed: SealedSecret, previous: int | None, audit: AuditDraft
    ) -> None:
        """Writes version ``metadata.version`` if the stored one is still ``previous`` (None: absent)."""
        item = SecretModel(
            org_id=sealed.org_id,
            **metadata.model_dump(mode="python"),
            **{f: getattr(sealed, f) for f in _SEALED},
        )
        condition = SecretModel.name.does_not_exist() if previous is None else SecretModel.version == previous
        try:
            self._audit.change(audit, lambda tx: tx.save(item, condition=condition))
        except MutationConflict:
            raise SecretConflict(f"secret {metadata.name} changed meanwhile; try again") from None

    def delete(self, org_id: str, name: str, version: int, audit: AuditDraft) -> None:
        def writes(tx: Writes) -> None:
            tx.delete(SecretModel(org_id=org_id, name=name), condition=SecretModel.version == version)

        try:
            self._audit.change(audit, writes)
        except MutationConflict:
            raise SecretNotFound(f"secret {name} not found") from None
