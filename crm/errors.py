"""Exceptions that services raise and routes turn into messages for the user."""
from crm.lifecycle import RuleError


class ServiceError(Exception):
    """Base class: the request cannot be carried out as asked."""


class RulesBroken(ServiceError):
    """Input breaks one or more rules; nothing was written."""

    def __init__(self, errors: list[RuleError]):
        super().__init__("; ".join(e.message % dict(e.params) for e in errors))
        self.errors = errors


class Conflict(ServiceError):
    """Someone else saved the record first (optimistic locking)."""
