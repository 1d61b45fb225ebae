"""pynamodb model of the secrets table: ciphertexts and wrapped data keys, never a plaintext."""

from __future__ import annotations

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model


class SecretModel(Model):
    class Meta:
        table_name = "secrets"
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    version = NumberAttribute()
    description = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    key_id = UnicodeAttribute()
    encrypted_data_key = BinaryAttribute(legacy_encoding=False)
    nonce = BinaryAttribute(legacy_encoding=False)
    ciphertext = BinaryAttribute(legacy_encoding=False)
