"""Mutation testing of the core modules with mutmut; prints and writes the results as JSON.

Usage: ``python benchmarks/mutate.py MODULE [MODULE ...]`` or ``python benchmarks/mutate.py all``
(``make mutate MODULE=emi``). The scope of each module (source, test files, core functions) and
the mutants judged equivalent are in benchmarks/mutation.toml.

Each module runs in its own copy of the project under ``<cache>/../mutation/<module>`` (mutmut
writes its mutants beside the configuration it reads, so modules do not share state), with one
worker (the machine is shared) and the tests of that module only. Results go to
benchmarks/results/mutation_<module>.json: killed, survived (with each survivor's diff),
equivalent (with its reason), and the score killed / (all - equivalent). Mutants whose function
no selected test calls ("no tests") and those that time out count as survived and killed
respectively, as mutmut reports them.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "mutation.toml"
RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(os.environ.get("LRS_HELPERS_CACHE", ROOT / ".cache" / "lrs_helpers"))
SHARED_DATA = Path(os.environ.get("LRS_SHARED_DATA", ROOT.parent / "shared" / "data"))
MUTMUT = Path(sys.executable).with_name("mutmut")
_RESULT_LINE = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


def _setup_cfg(source, tests):
    # notebooks: test_diagnose checks that every notebook a finding names exists;
    # benchmarks: test_background runs the background models' benchmark on the real frames
    lines = ["[mutmut]", "source_paths = lrs_helpers", f"only_mutate = {source}",
             "also_copy =", "    data_manifest.csv", "    notebooks", "    benchmarks",
             "pytest_add_cli_args_test_selection ="]
    lines += [f"    {test}" for test in tests]
    lines += ["pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -q"]
    return "\n".join(lines) + "\n"


def _workdir(module, scope):
    work = CACHE.parent / "mutation" / module
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "lrs_helpers", work / "lrs_helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks", work / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "benchmarks", work / "benchmarks", ignore=shutil.ignore_patterns("__pycache__", "results"))
    for name in ("pyproject.toml", "data_manifest.csv"):
        shutil.copy2(ROOT / name, work / name)
    tests = [test for test in scope["tests"] if (ROOT / test).exists()]
    (work / "setup.cfg").write_text(_setup_cfg(scope["source"], tests))
    return work, tests


def _mutmut(work, *args, check=True):
    env = dict(os.environ, LRS_HELPERS_CACHE=str(CACHE), LRS_HELPERS_SOURCE="sample",
               LRS_SHARED_DATA=str(SHARED_DATA))
    done = subprocess.run(["nice", "-n", "10", str(MUTMUT), *args], cwd=work, env=env,
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"mutmut {' '.join(args)} failed in {work}:\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")
    return done.stdout


def _mutant_glob(prefix, function):
    """mutmut's names: module.x_function__mutmut_N, module.xǁClassǁmethod__mutmut_N."""
    if function == "*":
        return f"{prefix}.*"
    if "." in function:
        cls, method = function.split(".")
        return f"{prefix}.x\u01c1{cls}\u01c1{method}__mutmut_*"
    return f"{prefix}.x_{function}__mutmut_*"


def _matches(name, globs):
    return any(re.fullmatch(glob.replace(".", r"\.").replace("*", ".*"), name) for glob in globs)


def _sampled(work, source, names, every):
    """Every ``every``-th mutant of the scope, in mutmut's order (function, then number)."""
    meta = json.loads((work / "mutants" / f"{source}.meta").read_text())
    chosen = [name for name in meta["exit_code_by_key"] if _matches(name, names)]
    number = re.compile(r"__mutmut_(\d+)$")
    chosen.sort(key=lambda name: (number.sub("", name), int(number.search(name)[1])))
    return chosen[::every], len(chosen)


def run_module(module, scope, equivalent, every=1, rerun=True, notes=None):
    prefix = scope["source"].removesuffix(".py").replace("/", ".")
    names = [_mutant_glob(prefix, function) for function in scope["functions"]]
    if not rerun:  # results of the last run, with the equivalents listed now
        previous = json.loads((RESULTS / f"mutation_{module}.json").read_text())
        work, tests = CACHE.parent / "mutation" / module, previous["tests"]
        run = previous.get("run", names)
        return _results(module, scope, equivalent, work, tests, run, previous["seconds"],
                        previous.get("sampled", "all"), run, notes)
    work, tests = _workdir(module, scope)
    start = time.monotonic()
    in_scope = None
    if every > 1:
        # generate the mutants (and the per-test coverage) with one mutant run, then the sample
        first = names[0].removesuffix("*").removesuffix("__mutmut_") + "*__mutmut_1"
        _mutmut(work, "run", "--max-children", "1", first)
        names, in_scope = _sampled(work, scope["source"], names, every)
    _mutmut(work, "run", "--max-children", "1", *names)
    seconds = time.monotonic() - start
    sampled = f"1 in {every} of {in_scope} mutants in scope" if every > 1 else "all"
    return _results(module, scope, equivalent, work, tests, names, round(seconds), sampled, names, notes)


def _note(name, notes):
    """The first note whose glob matches a survivor's name (why it is left, or what now kills it)."""
    return next((note for glob, note in notes.items() if _matches(name, [glob])), None)


def _results(module, scope, equivalent, work, tests, names, seconds, sampled, run, notes=None):
    statuses = {}
    for line in _mutmut(work, "results", "--all", "true").splitlines():
        match = _RESULT_LINE.match(line)
        # mutants outside a sample are "not checked": not counted
        if match and _matches(match["name"], names) and match["status"].strip() != "not checked":
            statuses[match["name"]] = match["status"].strip()
    killed = sorted(name for name, status in statuses.items() if status in ("killed", "timeout"))
    equivalent_here = sorted(name for name in statuses if name in equivalent)
    survived = sorted(set(statuses) - set(killed) - set(equivalent_here))
    counted = len(statuses) - len(equivalent_here)

    def described(name, reason=None):
        entry = {"name": name, "status": statuses[name],
                 "diff": _mutmut(work, "show", name, check=False).split("\n", 1)[-1].strip()}
        if reason:
            entry["reason"] = reason
        return entry

    return {
        "module": module, "tool": f"mutmut {metadata.version('mutmut')}", "source": scope["source"],
        "tests": tests, "functions": scope["functions"], "workers": 1,
        "seconds": seconds, "mutants": len(statuses), "sampled": sampled,
        "killed": len(killed), "survived": len(survived), "equivalent": len(equivalent_here),
        "score": round(len(killed) / counted, 3) if counted else None,
        "survivors": [described(name, _note(name, notes or {})) for name in survived],
        "equivalents": [described(name, equivalent[name]) for name in equivalent_here],
        "run": run,
    }


def main(argv=None):
    config = tomllib.loads(CONFIG.read_text())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", help=f"'all' or some of {', '.join(config['modules'])}")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the JSON from the last run's results (after listing equivalents)")
    parser.add_argument("--every", type=int, default=1,
                        help="run every N-th mutant only (a systematic sample, for a quick score)")
    args = parser.parse_args(argv)
    modules = list(config["modules"]) if args.modules == ["all"] else args.modules
    unknown = sorted(set(modules) - set(config["modules"]))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(config['modules'])}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {}
    for module in modules:
        result = run_module(module, config["modules"][module], config.get("equivalent", {}), args.every,
                            rerun=not args.report_only, notes=config.get("survivor_notes", {}))
        target = RESULTS / f"mutation_{module}.json"
        scratch = target.with_suffix(".json.part")
        scratch.write_text(json.dumps(result, indent=1) + "\n")
        scratch.replace(target)
        summary[module] = {key: result[key] for key in ("mutants", "killed", "survived", "equivalent",
                                                        "score", "seconds", "sampled")}
        print(json.dumps({module: summary[module]}), flush=True)
    if len(modules) > 1:
        print(json.dumps({"total_seconds": sum(entry["seconds"] for entry in summary.values())}))


if __name__ == "__main__":
    main()
