"""The BUILD files stay true to the tree: one target per module, deps from the imports, no cycle.

Bazel is optional here (docs/bazel.md) and needs the network, so this reads every BUILD file as
Bazel would (Starlark calls are Python syntax) and checks it against the modules, whose imports it
finds with `ast`. A failure names the BUILD file, the target and the exact line to add or remove.

What a module needs, as Bazel sees it:
- first-party: every module it imports (`from zoo.data import pipeline` -> "//zoo/data:pipeline",
  `import zoo` -> "//zoo"), every module named in full by a string constant (a module that
  `importlib.import_module`s one by name, a test that starts `python -m recipes.vae`), and every
  import in a string that is Python code (what a test runs with `python -c`). A library or binary
  depends on exactly those; a test may depend on more (a recipe it runs by a computed name).
  Importing `a.b.c` also runs a/__init__.py and a/b/__init__.py; Bazel writes empty ones where
  no target brings them, and counting them would make zoo/__init__.py (which imports the models)
  and every zoo module depend on each other, a cycle Bazel refuses.
- third-party: `requirement("<distribution>")` for each package imported, declared in setup.cfg.
"""

import ast
import configparser
import json
import os
import re
import sys

import pytest

# The source tree, also under `bazel test` (whose runfiles hold symlinks into it).
_REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_ROOTS = ("zoo", "recipes", "benchmarks", "tests")  # Folders whose modules need a target.
_FIRST_PARTY = ("zoo", "recipes", "tests")  # Importable packages of this repository.
_RULES = ("py_library", "py_binary", "py_test")
_CONFTEST = "//tests:conftest"

# Import name -> the distributions it needs at run time, where the name is not the distribution's
# own (normalised) name. TFP imports tf_keras and TensorFlow without declaring them (they are its
# `[tf]` extra), so a target importing it needs both.
_DISTRIBUTIONS = {
    "absl": ("absl-py",),
    "PIL": ("pillow",),
    "sklearn": ("scikit-learn",),
    "tensorflow_probability": ("tensorflow-probability", "tf-keras", "tensorflow"),
    "yaml": ("pyyaml",),
}


def _normalise(distribution):
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _dotted(path):
    """Module name of a repository path: zoo/models/vae.py is zoo.models.vae, zoo/__init__.py
    is zoo."""
    name = path[:-3].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _modules():
    """Repository-relative paths of every module that needs a target."""
    found = []
    for root in _ROOTS:
        for folder, dirs, files in os.walk(os.path.join(_REPO, root)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            found += [os.path.relpath(os.path.join(folder, f), _REPO)
                      for f in sorted(files) if f.endswith(".py")]
    return found


def _build_files():
    paths = []
    for folder, dirs, files in os.walk(_REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__", "bazel-")))
        paths += [os.path.join(folder, f) for f in ("BUILD", "BUILD.bazel") if f in files]
    return [os.path.relpath(p, _REPO) for p in paths]


def _label(package, text):
    """The full label ("//pkg:name") of a dep as written in the BUILD of package."""
    if text.startswith(":"):
        return f"//{package}{text}"
    if text.startswith("//") and ":" not in text:
        return f"{text}:{text.rsplit('/', 1)[-1]}"
    return text


def _literal(node, build, what):
    try:
        return ast.literal_eval(node)
    except ValueError:
        pytest.fail(f"{build}: {what} must be written out as a literal, not "
                    f"{ast.unparse(node)!r} (this test reads it without Bazel)")


@pytest.fixture(scope="module")
def targets():
    """Every target by label ("//pkg:name"): rule, BUILD file, srcs (repository paths), deps
    (labels), requirements (distributions) and the attributes a test checks."""
    found = {}
    for build in _build_files():
        package = os.path.dirname(build)
        tree = ast.parse(open(os.path.join(_REPO, build)).read(), build)
        for statement in tree.body:
            call = statement.value if isinstance(statement, ast.Expr) else None
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) in _RULES):
                continue
            attrs = {kw.arg: kw.value for kw in call.keywords}
            name = ast.literal_eval(attrs["name"])
            assert len(attrs) == len(call.keywords), f"{build}: {name} repeats an attribute"
            deps, requirements = [], []
            for dep in attrs["deps"].elts if "deps" in attrs else []:
                if isinstance(dep, ast.Call):
                    assert getattr(dep.func, "id", None) == "requirement", (
                        f"{build}: {name} has a dep {ast.unparse(dep)}; use requirement(\"...\")")
                    requirements.append(ast.literal_eval(dep.args[0]))
                else:
                    deps.append(_label(package, ast.literal_eval(dep)))
            label = f"//{package}:{name}"
            assert label not in found, f"{build}: two targets named {name!r}"
            srcs = _literal(attrs["srcs"], build, f"{name}'s srcs") if "srcs" in attrs else []
            found[label] = {
                "rule": call.func.id, "build": build, "name": name,
                "srcs": [os.path.join(package, src) for src in srcs],
                "deps": deps, "requirements": requirements,
                "attrs": {key: _literal(value, build, f"{name}'s {key}")
                          for key, value in attrs.items()
                          if key in ("main_module", "args", "data", "testonly")},
            }
    assert found, "no py_library/py_binary/py_test in any BUILD file"
    return found


@pytest.fixture(scope="module")
def owners(targets):
    """Repository path of each module -> the label of the target whose srcs list it."""
    return {src: label for label, target in targets.items() for src in target["srcs"]}


def _strings(tree):
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _imports(path, known):
    """Modules that path imports (dotted names, first- and third-party), see the docstring."""
    tree = ast.parse(open(os.path.join(_REPO, path)).read(), path)
    package = _dotted(path) if path.endswith("__init__.py") else _dotted(path).rpartition(".")[0]
    names = {text for text in _strings(tree) if "." in text and text in known}
    trees = [tree]
    for text in _strings(tree):
        try:
            trees.append(ast.parse(text))
        except (SyntaxError, ValueError):
            pass  # Prose, not code.
    for code in trees:
        for node in ast.walk(code):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    names.add(submodule if submodule in known else base)
    return names


def _needs(path, owners):
    """First-party labels, distributions and unknown first-party names the module needs."""
    known = {_dotted(module): module for module in owners}
    labels, distributions, unknown = {}, {}, []
    for name in sorted(_imports(path, known)):
        top = name.split(".")[0]
        if path.startswith("tests/") and f"tests.{name}" in known:
            # pytest puts tests/ on sys.path: `import harness` is tests/harness.py.
            name, top = f"tests.{name}", "tests"
        if top in _FIRST_PARTY:
            if name in known:
                labels[owners[known[name]]] = name
            else:
                unknown.append(name)
        elif top not in sys.stdlib_module_names and top != "__future__":
            for distribution in _DISTRIBUTIONS.get(top, (_normalise(top),)):
                distributions.setdefault(distribution, name)
    return labels, distributions, unknown


def _report(problems):
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _short(label, package):
    if label.startswith(f"//{package}:"):
        return label[len(f"//{package}"):]
    folder, name = label.split(":")
    return folder if folder.rsplit("/", 1)[-1] == name else label


def test_every_module_has_exactly_one_target_and_every_src_exists(targets):
    listed = {}
    for label, target in targets.items():
        for src in target["srcs"]:
            listed.setdefault(src, []).append(label)
    problems = []
    for module in _modules():
        folder, base = os.path.split(module)
        if module not in listed:
            rule = ("py_test" if base.endswith("_test.py") else
                    "py_binary" if folder in ("recipes", "benchmarks") else "py_library")
            name = os.path.basename(folder) if base == "__init__.py" else base[:-3]
            problems.append(f"{module} has no target: add to {folder}/BUILD\n"
                            f"    {rule}(name = \"{name}\", srcs = [\"{base}\"], deps = [...])\n"
                            f"  (this test then names its deps)")
        elif len(listed[module]) > 1:
            problems.append(f"{module} is in the srcs of {len(listed[module])} targets: "
                            f"{', '.join(listed[module])}; keep one")
    for src, labels in sorted(listed.items()):
        if not os.path.isfile(os.path.join(_REPO, src)):
            problems.append(f"{targets[labels[0]]['build']}: {labels[0]} lists {src}, "
                            f"which does not exist; remove it (or the target)")
        elif not src.endswith(".py") or src.split("/")[0] not in _ROOTS:
            problems.append(f"{targets[labels[0]]['build']}: {labels[0]} lists {src}, outside "
                            f"the module folders {_ROOTS}")
    _report(problems)


def _has_main_guard(path):
    tree = ast.parse(open(os.path.join(_REPO, path)).read(), path)
    return any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
               for node in tree.body)


def test_recipes_and_benchmarks_are_binaries_tests_run_under_pytest(targets, owners):
    problems = []
    for module in _modules():
        label = owners.get(module)
        if label is None:
            continue  # The first test names it.
        target, folder, base = targets[label], *os.path.split(module)
        if folder == "benchmarks" or (folder == "recipes" and _has_main_guard(module)):
            if target["rule"] != "py_binary":
                problems.append(f"{target['build']}: {module} is a program (a recipe or a "
                                f"benchmark): make {label} a py_binary, not a {target['rule']}")
        elif base.endswith("_test.py"):
            if target["rule"] != "py_test" or target["srcs"] != [module]:
                problems.append(f"{target['build']}: {module} needs its own py_test with "
                                f"srcs = [\"{base}\"] only (now {label}, a {target['rule']} "
                                f"of {target['srcs']})")
                continue
            # Run as a script a test file only defines its tests; pytest has to collect them.
            expected = {"main_module": "pytest", "args": [f"$(rootpath {base})"]}
            for key, value in expected.items():
                if target["attrs"].get(key) != value:
                    problems.append(f"{target['build']}: {label} needs "
                                    f"{key} = {json.dumps(value)}")
            if "//:setup.cfg" not in target["attrs"].get("data", []):
                problems.append(f"{target['build']}: {label} needs data = [\"//:setup.cfg\"] "
                                f"(pytest's settings)")
            if _CONFTEST in owners.values() and _CONFTEST not in target["deps"]:
                problems.append(f"{target['build']}: {label} needs \":conftest\" in deps "
                                f"(pytest loads it first)")
        elif target["rule"] != "py_library":
            problems.append(f"{target['build']}: {module} is imported, not run: make {label} "
                            f"a py_library")
        elif folder == "tests" and target["attrs"].get("testonly") is not True:
            problems.append(f"{target['build']}: {label} is test code: add testonly = True")
    _report(problems)


def _requirements():
    config = configparser.ConfigParser()
    config.read(os.path.join(_REPO, "setup.cfg"))
    lines = (config["options"]["install_requires"] + "\n"
             + "\n".join(config["options.extras_require"].values()))
    return {_normalise(re.split(r"[<>=!~\[; ]", line.strip())[0])
            for line in lines.splitlines() if line.strip()}


def test_every_import_is_a_dep_and_every_dep_is_real(targets, owners):
    declared = _requirements()
    assert {"tensorflow", "keras", "pytest"} <= declared, "setup.cfg was not read"
    problems = []
    for label, target in sorted(targets.items()):
        build, package = target["build"], os.path.dirname(target["build"])
        where = f"{build}: {target['name']}"
        needed, distributions = {}, {}
        for src in target["srcs"]:
            if src in owners and os.path.isfile(os.path.join(_REPO, src)):
                labels, names, unknown = _needs(src, owners)
                problems += [f"{where}: {src} imports {name}, which is no module with a target "
                             f"(a typo, or a module the first test says to add)"
                             for name in unknown]
                needed.update({dep: (src, name) for dep, name in labels.items()})
                distributions.update({d: (src, name) for d, name in names.items()})
        needed.pop(label, None)
        for dep, (src, name) in sorted(needed.items()):
            if dep not in target["deps"]:
                problems.append(f"{where}: {src} imports {name}: add "
                                f"\"{_short(dep, package)}\" to its deps")
        for dep in target["deps"]:
            if dep not in targets:
                problems.append(f"{where}: dep \"{_short(dep, package)}\" names no target "
                                f"(no py_library/py_binary/py_test of that name in "
                                f"{dep[2:].split(':')[0] or '.'}/BUILD)")
            elif (target["rule"] != "py_test" and dep not in needed):
                problems.append(f"{where}: nothing in {target['srcs']} imports "
                                f"{targets[dep]['srcs']}: remove \"{_short(dep, package)}\" "
                                f"from its deps")
        requirements = {_normalise(r) for r in target["requirements"]}
        for distribution, (src, name) in sorted(distributions.items()):
            if distribution not in requirements:
                problems.append(f"{where}: {src} imports {name}: add "
                                f"requirement(\"{distribution}\") to its deps")
        for distribution in sorted(requirements | set(distributions)):
            if distribution not in declared:
                problems.append(f"{where}: {distribution} is not in setup.cfg: declare it "
                                f"there (install_requires or the test extra), regenerate "
                                f"requirements_lock.txt (docs/bazel.md); if its import name "
                                f"differs, map it in tests/build_test.py's _DISTRIBUTIONS")
    _report(problems)


def test_no_dependency_cycle(targets):
    state, problems = {}, []  # label -> "open" while on the path, "done" after.

    def visit(label, path):
        state[label] = "open"
        for dep in targets[label]["deps"]:
            if state.get(dep) == "open":
                cycle = path[path.index(dep):] + [dep]
                problems.append("dependency cycle (Bazel refuses it): " + " -> ".join(cycle))
            elif dep in targets and dep not in state:
                visit(dep, path + [dep])
        state[label] = "done"

    for label in sorted(targets):
        if label not in state:
            visit(label, [label])
    _report(problems)
