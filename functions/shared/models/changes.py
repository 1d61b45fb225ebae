"""The base of a record's typed change: the fields a write sets, each optional, where a field given
as ``None`` is removed and a field not given is left as it is (``model_fields_set`` tells them apart).
Repositories write ``given()``, never ``**kwargs`` of column names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Changes(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def given(self) -> dict[str, object]:
        """The fields this change writes, by name (``None``: remove the attribute)."""
        return {name: getattr(self, name) for name in self.model_fields_set}
