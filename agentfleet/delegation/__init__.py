"""Deciding who does a task: complexity, policy, budgets, plans, calibration, prices."""
