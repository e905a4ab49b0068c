"""BUILD stays true: every module and test has a target, every dep names one.

Bazel cannot run offline here, so this parses BUILD (Starlark is Python
syntax) and checks it against the tree.
"""

import ast
import configparser
import glob
import os
import re

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_RULES = ("py_library", "py_binary", "py_test")


def _targets():
    tree = ast.parse(open(os.path.join(_REPO, "BUILD")).read(), "BUILD")
    targets = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in _RULES:
            args = {kw.arg: kw.value for kw in node.keywords}
            name = ast.literal_eval(args["name"])
            srcs = ast.literal_eval(args["srcs"]) if "srcs" in args else []
            deps = args["deps"].elts if "deps" in args else []
            targets[name] = {"rule": node.func.id, "srcs": srcs, "deps": deps}
    return targets


def _requirements():
    config = configparser.ConfigParser()
    config.read(os.path.join(_REPO, "setup.cfg"))
    names = config["options"]["install_requires"] + config["options.extras_require"]["test"]
    return {re.split(r"[<>=\[ ]", line.strip())[0].lower().replace("_", "-")
            for line in names.splitlines() if line.strip()}


def test_every_module_has_a_library_or_binary_target():
    targets = _targets()
    covered = {src for t in targets.values() if t["rule"] != "py_test" for src in t["srcs"]}
    patterns = ("zoo/**/*.py", "recipes/**/*.py", "benchmarks/*.py", "tests/conftest.py")
    modules = {os.path.relpath(p, _REPO) for pattern in patterns
               for p in glob.glob(os.path.join(_REPO, pattern), recursive=True)}
    assert modules, "no modules found"
    assert sorted(modules - covered) == [], "modules without a BUILD target"
    assert sorted(set(covered) - modules) == [], "BUILD names files that do not exist"


def test_every_recipe_is_a_binary_and_every_test_file_a_test():
    targets = _targets()
    for recipe in glob.glob(os.path.join(_REPO, "recipes", "*.py")):
        name = os.path.basename(recipe)[:-3]
        if name in ("__init__", "flags"):
            continue
        assert targets.get(name, {}).get("rule") == "py_binary", f"recipes/{name}.py has no py_binary"
    for test in glob.glob(os.path.join(_REPO, "tests", "*_test.py")):
        name = os.path.basename(test)[:-3]
        assert targets.get(name, {}).get("rule") == "py_test", f"tests/{name}.py has no py_test"
        assert targets[name]["srcs"] == [f"tests/{name}.py"]


def test_every_dep_names_a_target_or_a_declared_requirement():
    targets = _targets()
    requirements = _requirements()
    for name, target in targets.items():
        assert target["deps"], f"{name} has no deps"
        for dep in target["deps"]:
            if isinstance(dep, ast.Call):
                assert dep.func.id == "requirement", ast.dump(dep)
                package = ast.literal_eval(dep.args[0]).lower().replace("_", "-")
                assert package in requirements, f"{name}: requirement({package!r}) is not in setup.cfg"
            else:
                label = ast.literal_eval(dep)
                assert label.startswith(":") and label[1:] in targets, f"{name}: {label} names no target"
