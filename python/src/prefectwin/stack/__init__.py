"""Install-PrefectStack: from a box with Python to a healthy, secured server and worker.

- plan.py: pure. The interpreter's and NSSM's actions from what was read, and the one plan
  that puts them before each service's own actions (services/plan.py plan_install) and a
  health wait after them.
- steps.py: how the interpreter and NSSM actions are carried out and undone; every other
  kind is the services' (services/steps.py).
"""
