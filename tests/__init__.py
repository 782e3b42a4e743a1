"""Test suite and benchmark of the investment pipeline CRM."""
