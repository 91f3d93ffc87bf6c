"""Problems by name: `get_problem(name, **options)`.

Problem modules are imported lazily so that asking for a synthetic problem never touches table
loading code (and vice versa).
"""

from __future__ import annotations

import importlib
import inspect

from lamoo_jax.problem import Problem

# name -> "module:factory"; each factory takes the problem's options as keyword arguments.
_REGISTRY: dict[str, str] = {
    "branin_currin": "benchmarks.problems.synthetic:branin_currin",
    "vehicle_safety": "benchmarks.problems.synthetic:vehicle_safety",
    "dtlz2": "benchmarks.problems.synthetic:dtlz2",
    "zdt1": "benchmarks.problems.synthetic:zdt1",
    "zdt2": "benchmarks.problems.synthetic:zdt2",
    "zdt3": "benchmarks.problems.synthetic:zdt3",
    "nasbench201": "benchmarks.problems.nasbench201:nasbench201",
    "nasbench_graph": "benchmarks.problems.nasbench_graph:nasbench_graph",
    "table": "benchmarks.problems.table:table_problem",
    "nasbench301_sample": "benchmarks.problems.table:nasbench301_sample",
    "nasbench101_sample": "benchmarks.problems.table:nasbench101_sample",
}


def list_problems() -> list[str]:
    return sorted(_REGISTRY)


def get_problem(name: str, /, **options) -> Problem:
    """Build the problem registered under `name` with its options (e.g. `n_obj=3, dim=12`).

    `name` is positional only, so a problem may take an option called `name` (the table problem).

    Raises ValueError naming the problem for an unknown name, unknown or missing options, and an
    option value the factory cannot use (e.g. `ref_point="abc"`).
    """
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown problem {name!r}; known problems: {', '.join(list_problems())}")
    module_name, factory_name = _REGISTRY[key].split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    check_options(key, factory, options)
    try:
        return factory(**options)
    except (TypeError, ValueError) as error:
        raise _option_error(key, options, error) from error


def _named_parameters(factory) -> tuple[list[inspect.Parameter], bool]:
    """The factory's keyword-passable parameters, and whether it takes **options as well."""
    named, takes_any = [], False
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            takes_any = True
        elif parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            named.append(parameter)
    return named, takes_any


def check_options(key: str, factory, options: dict) -> None:
    """Raise ValueError naming unknown and missing options of problem `key`, and the accepted ones.

    Factories that take **options check the extra names themselves (with their own message).
    """
    named, takes_any = _named_parameters(factory)
    names = [p.name for p in named]
    unknown = [] if takes_any else sorted(set(options) - set(names))
    missing = [p.name for p in named if p.default is inspect.Parameter.empty and p.name not in options]
    if not unknown and not missing:
        return
    problems = []
    if unknown:
        problems.append(f"unknown option(s) {', '.join(unknown)}")
    if missing:
        problems.append(f"missing required option(s) {', '.join(missing)}")
    accepted = ", ".join(f"{p.name} (required)" if p.default is inspect.Parameter.empty else p.name for p in named)
    raise ValueError(f"problem {key}: {'; '.join(problems)}; accepted options: {accepted or 'none'}")


def _option_error(key: str, options: dict, error: Exception) -> ValueError:
    """A ValueError for `error` raised while building problem `key`, naming the option(s) at fault.

    Factories that already name themselves keep their message. Otherwise (e.g. numpy's "could not
    convert string to float: 'abc'") the options whose value's repr appears in the message are
    named, or all given options when none does, so the user sees which -P value to fix.
    """
    message = str(error)
    if message.startswith((f"{key}:", f"{key} ", f"problem {key}")):
        return ValueError(message)
    culprits = {k: v for k, v in options.items() if repr(v) in message}
    named = culprits or options
    if not named:
        return ValueError(f"problem {key}: {message}")
    shown = ", ".join(f"{k}={v!r}" for k, v in named.items())
    return ValueError(f"problem {key}: option {shown}: {message}")
