"""Diagnosis: gather facts about a machine, then judge them with pure checks."""
