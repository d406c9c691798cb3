"""One change engine for every state-changing command (services, settings, repair, database).

- `model`:   the one `Action` and `Plan` types, ids, dependencies and the state fingerprint;
- `engine`:  `apply(plan, ...)`: run the confirmed actions in order, journal each step first,
             undo the steps done (in reverse) when a later one fails;
- `journal`: the on-disk record of an apply in progress, without secrets;
- `session`: plans offered with whatIf, kept by id in a `serve` backend, applied by id;
- `recovery`: what a killed backend left, finished or rolled back.

Planners stay pure: they build `Action`s and never import an adapter or this package's engine.
"""
