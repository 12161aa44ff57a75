"""The contact policy in force: the default settings and each bank's overrides (GET/PUT
/api/contact-policy), as stored (a JSON document in PostgreSQL) and as the gate applies them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import time
from types import MappingProxyType
from typing import TYPE_CHECKING

from domain.contact_policy import ContactPolicy
from domain.errors import InvalidInput

if TYPE_CHECKING:
    from domain.unit_of_work import UnitOfWork

SETTINGS = tuple(f.name for f in fields(ContactPolicy))
_TIMES = ("window_start", "window_end")


@dataclass(frozen=True)
class ContactRules:
    """The default policy and the banks' overrides (each a partial set of the policy's settings)."""

    default: ContactPolicy = ContactPolicy()
    by_bank: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self):
        for bank_code in self.by_bank:  # InvalidInput naming the bank's bad settings
            self.default.with_bank_overrides(self.by_bank, bank_code)

    def for_bank(self, bank_code: str) -> ContactPolicy:
        """The policy a case of this bank is held to."""
        if bank_code not in self.by_bank:
            return self.default
        return self.default.with_bank_overrides(self.by_bank, bank_code)

    def document(self) -> dict:
        """The JSON form (times as HH:MM), as the API shows it and the store keeps it."""
        return {**_dumped(asdict(self.default)),
                "by_bank": {bank: _dumped(dict(overrides)) for bank, overrides in sorted(self.by_bank.items())}}

    @classmethod
    def from_document(cls, document: Mapping) -> ContactRules:
        """Rules from their JSON form; missing settings take the defaults; InvalidInput when wrong."""
        unknown = sorted(set(document) - {*SETTINGS, "by_bank"})
        if unknown:
            raise InvalidInput("Unknown contact policy settings",
                               {name: ["is not a contact policy setting"] for name in unknown})
        by_bank = document.get("by_bank") or {}
        if not isinstance(by_bank, Mapping) or not all(isinstance(v, Mapping) for v in by_bank.values()):
            raise InvalidInput("Invalid contact policy", {"by_bank": ["must map bank codes to settings"]})
        default = ContactPolicy(**_loaded({k: v for k, v in document.items() if k != "by_bank"}, prefix=""))
        banks = {bank: MappingProxyType(_loaded(dict(overrides), prefix=f"by_bank.{bank}."))
                 for bank, overrides in by_bank.items()}
        return cls(default, MappingProxyType(banks))


def _dumped(values: dict) -> dict:
    return {name: value.strftime("%H:%M") if isinstance(value, time) else value for name, value in values.items()}


def _loaded(values: dict, *, prefix: str) -> dict:
    """The settings with their times parsed (HH:MM); InvalidInput naming a time that is not one."""
    loaded = dict(values)
    for name in _TIMES:
        if name in loaded and not isinstance(loaded[name], time):
            loaded[name] = _time(loaded[name], prefix + name)
    return loaded


def _time(value: object, name: str) -> time:
    try:
        if isinstance(value, str) and len(value) == 5 and value[2] == ":":
            return time.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidInput("Invalid contact policy", {name: ["must be a time of day HH:MM, like 08:00"]})


def current_rules(uow: UnitOfWork) -> ContactRules:
    """The rules in force: the stored ones, or the defaults when none were set."""
    document = uow.contact_policy.get()
    return ContactRules() if document is None else ContactRules.from_document(document)


def replace_rules(uow: UnitOfWork, document: Mapping, *, by: int) -> ContactRules:
    """Check and store new rules (an admin's PUT); InvalidInput naming each wrong setting."""
    rules = ContactRules.from_document(document)
    uow.contact_policy.put(rules.document(), by=by)
    uow.commit()
    return rules
