"""`lenet-edge tune`: the LeNet design space searched for a device on Ray Tune, ending in a Pareto
front (space, trial, front, search, confirm, report)."""
