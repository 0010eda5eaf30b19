"""Civic Grid 网格化基层治理平台."""

__version__ = "0.1.0"
