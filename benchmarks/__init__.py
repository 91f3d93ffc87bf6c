"""Problems (synthetic, NAS-Bench tables, user tables) and the performance / reproduction harness."""

from benchmarks.problems import get_problem, list_problems

__all__ = ["get_problem", "list_problems"]
