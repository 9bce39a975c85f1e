"""The files whose fixtures take longest run first: with `make test`'s two workers (pytest-xdist,
a file to each) they would otherwise start last and finish alone."""
FIRST = ("test_tune.py", "test_pipeline.py", "test_budget_prune.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST))
