"""Payload models and durable names: what workflows, activities and people exchange."""
