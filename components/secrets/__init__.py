"""Secrets the environment hands its clients and servers, kept in each cloud's secret store."""

from .store import SecretPlace, store_secret

__all__ = ["SecretPlace", "store_secret"]
