"""Every exception of the project crosses processes whole: Ray copies and pickles what a trial raises, and an error
that cannot be rebuilt reaches the user as a TypeError instead of its message."""
import copy
import importlib
import pickle
import pkgutil

import pytest

PACKAGES = ("shapca", "trainables", "ablations", "reports", "clusters")
# how to make one of each; a new exception class of the project must be added here (the first test says so)
EXAMPLES = {
    "shapca.data.errors.DataError": lambda cls: cls("contexts/bad.jsonl", 501, "not valid JSON"),
}


def project_exceptions() -> dict[str, type]:
    found = {}
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, BaseException)
                        and value.__module__.split(".")[0] in PACKAGES):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


FOUND = project_exceptions()


def test_the_project_has_exceptions_to_check():
    assert "shapca.data.errors.DataError" in FOUND and len(FOUND) >= 10


@pytest.mark.parametrize("name", sorted(FOUND))
def test_copied_and_pickled_with_their_message(name):
    cls = FOUND[name]
    error = EXAMPLES.get(name, lambda c: c("mnre/train.txt:12: the message the user must see"))(cls)
    for again in (copy.copy(error), copy.deepcopy(error), pickle.loads(pickle.dumps(error))):
        assert type(again) is cls and str(again) == str(error) and str(error)
