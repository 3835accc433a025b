"""Tests of the lrs-helpers command line: exit codes, one-line errors, help, fetch, sample.

Most run ``main([...])`` in-process; one runs the installed console script to prove the entry
point. Downloads go to a local HTTP server on 127.0.0.1 only (the fixtures of test_data).
"""

import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits

from lrs_helpers import cli, data
# The local MAST stand-in and the guard that refuses outside addresses (autouse).
from test_data import _serve, outside_attempts, standin  # noqa: F401
from test_diagnose import bad_inputs

SUBCOMMANDS = ("fetch", "sample", "diagnose", "emicorr", "bkgsub")


def _twin(key):
    return str(data.get(key, source="sample", verbose=False))


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lrs-helpers: error: ") and "Traceback" not in err
    for word in words:
        assert word in lines[0]


# ---------------------------------------------------------------------------------------------
# help
# ---------------------------------------------------------------------------------------------
def test_program_help_lists_the_commands_and_exit_codes(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for word in (*SUBCOMMANDS, "examples:", "exit codes: 0 clean, 1 findings"):
        assert word in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_command_has_help_with_examples(capsys, command):
    code, out, _ = _run(capsys, command, "--help")
    assert code == 0
    assert f"usage: lrs-helpers {command}" in out and "examples:" in out


def test_usage_errors_exit_2(capsys):
    code, _, err = _run(capsys)
    assert code == 2 and "required" in err
    code, _, err = _run(capsys, "diagnose")
    assert code == 2 and "FILE" in err


# ---------------------------------------------------------------------------------------------
# diagnose
# ---------------------------------------------------------------------------------------------
def test_diagnose_findings_exit_1(capsys):
    code, out, err = _run(capsys, "diagnose", _twin("emi_uncal"))
    assert code == 1
    assert "warning  emi" in out and "03_emi_pattern_noise.ipynb" in out
    assert err == ""


def test_diagnose_clean_exit_0(capsys):
    code, out, _ = _run(capsys, "diagnose", _twin("slit_cal_nod1"))
    assert code == 0 and "ok       dropouts" in out


def test_diagnose_pairs_the_nods_given_together(capsys):
    code, out, _ = _run(capsys, "diagnose", _twin("nods_x1d_nod1"), _twin("nods_x1d_nod2"))
    # the twin's nods share their across-slit offset (as an along-slit nod does): they agree
    assert code == 0 and "ok       nod_disparity" in out
    assert out.count("nod_disparity") == 1  # one report for the pair, not two
    assert " + " in out.splitlines()[0]


@pytest.mark.parametrize("case", ["not FITS", "another instrument", "imaging exposure", "truncated"])
def test_bad_input_exit_2_with_one_line(capsys, tmp_path, case):
    path, problem = bad_inputs(tmp_path)[case]
    code, out, err = _run(capsys, "diagnose", str(path))
    assert code == 2 and out == ""
    _one_error_line(err, str(path), problem)


def test_bad_file_among_good_ones_still_reports_the_good(capsys, tmp_path):
    path, _ = bad_inputs(tmp_path)["not FITS"]
    code, out, err = _run(capsys, "diagnose", _twin("slit_s2d_nod1"), str(path))
    assert code == 2
    assert "dropouts" in out
    _one_error_line(err, str(path))


def test_missing_file_exit_2(capsys, tmp_path):
    missing = tmp_path / "nothing_x1d.fits"
    code, _, err = _run(capsys, "diagnose", str(missing))
    assert code == 2
    _one_error_line(err, str(missing), "no such file")


def test_diagnose_html(capsys, tmp_path):
    page = tmp_path / "diagnosis.html"
    code, _, err = _run(capsys, "diagnose", _twin("ta_image"), _twin("emi_uncal"), "--html", str(page))
    assert code == 1
    text = page.read_text(encoding="utf-8")
    # a summary table of the two files first, then one table per file
    assert text.count("<table") == 3 and "<img" in text
    assert f"wrote {page}" in err


def test_diagnose_html_refuses_the_input(capsys, tmp_path):
    product = tmp_path / Path(_twin("ta_image")).name
    product.write_bytes(Path(_twin("ta_image")).read_bytes())
    before = product.read_bytes()
    code, _, err = _run(capsys, "diagnose", str(product), "--html", str(product))
    assert code == 2
    _one_error_line(err, "must end in .html")
    assert product.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------------------
def test_fetch_sample_prints_paths(capsys):
    code, out, err = _run(capsys, "fetch", "emi_uncal", "ta_image", "--source", "sample")
    assert code == 0
    assert out.splitlines() == [_twin("emi_uncal"), _twin("ta_image")]
    assert "emi_uncal: sample twin" in err  # which source: on stderr, so stdout holds paths only


def test_fetch_unknown_key_exit_2(capsys):
    code, out, err = _run(capsys, "fetch", "no_such_key", "--source", "sample")
    assert code == 2 and out == ""
    _one_error_line(err, "no_such_key", "emi_uncal")


def test_fetch_needs_keys_or_all(capsys):
    code, _, err = _run(capsys, "fetch")
    assert code == 2
    _one_error_line(err, "--all")
    code, _, err = _run(capsys, "fetch", "emi_uncal", "--all")
    assert code == 2


def test_fetch_all_sample(capsys):
    code, out, _ = _run(capsys, "fetch", "--all", "--source", "sample")
    assert code == 0
    assert len(out.splitlines()) == len(data.manifest())
    assert all(Path(line).is_file() for line in out.splitlines())


def test_fetch_mast_from_a_local_server(capsys, standin):
    served = _serve(standin, "jump_uncal")
    code, out, err = _run(capsys, "fetch", "jump_uncal", "--source", "mast")
    assert code == 0
    assert out.strip() == str(data.mast_path("jump_uncal"))
    assert Path(out.strip()).read_bytes() == served.read_bytes()
    assert "downloaded from MAST" in err
    # a product the server does not have: exit 2, one line naming the file, nothing saved
    _serve(standin, "emi_uncal", "not_found")
    code, out, err = _run(capsys, "fetch", "emi_uncal", "--source", "mast")
    assert code == 2 and out == ""
    _one_error_line(err, data.info("emi_uncal")["mast_filename"], "404")
    assert not data.mast_path("emi_uncal").exists()


def test_fetch_all_mast_stops_at_the_first_failure(capsys, standin):
    first = str(data.manifest()["key"][0])
    code, out, err = _run(capsys, "fetch", "--all", "--source", "mast")
    assert code == 2 and out == ""
    _one_error_line(err, data.info(first)["mast_filename"], f"'{first}'")
    assert "np.str_" not in err


# ---------------------------------------------------------------------------------------------
# sample, progress
# ---------------------------------------------------------------------------------------------
def test_sample_into_a_folder(capsys, tmp_path):
    code, out, _ = _run(capsys, "sample", "ta_image", "--out", str(tmp_path))
    assert code == 0
    assert (tmp_path / "sample" / "ta_image" / "truth.json").is_file()
    assert out.split() == ["ta_image", str(tmp_path / "sample" / "ta_image")]


def test_sample_unknown_scenario_exit_2(capsys, tmp_path):
    code, _, err = _run(capsys, "sample", "no_such_twin", "--out", str(tmp_path))
    assert code == 2
    _one_error_line(err, "no_such_twin", "emi_tso")
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_are_one_line(capsys):
    for argv in ([], ["sample", "--seed", "-1"], ["sample", "--seed", "seven"], ["fetch", "--source", "web"]):
        code, out, err = _run(capsys, *argv)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and "--help" in err, err


def _sample_fails(capsys, *argv, words=()):
    code, out, err = _run(capsys, "sample", *argv)
    assert code == 2, (out, err)
    _one_error_line(err, *words)
    return err


def test_sample_into_a_cache_path_that_is_a_file(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LRS_HELPERS_CACHE", str(blocker))
    _sample_fails(capsys, "ta_image", words=(str(blocker), "not a folder"))
    assert blocker.read_text() == "not a folder"
    _sample_fails(capsys, "ta_image", "--out", str(blocker), words=(str(blocker),))


def test_sample_into_an_unwritable_cache(capsys, tmp_path):
    from test_io import _without_root_powers

    prefix = _without_root_powers()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    done = subprocess.run([*prefix, sys.executable, "-m", "lrs_helpers", "sample", "ta_image", "--out",
                           str(locked)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    _one_error_line(done.stderr, str(locked), "permission denied")
    assert list(locked.iterdir()) == []


def test_sample_on_a_full_disk(capsys, tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small tmpfs")
    small = tmp_path / "small"
    small.mkdir()
    done = subprocess.run(["unshare", "-m", "sh", "-c",
                           f"mount -t tmpfs -o size=256k tmpfs {small} && "
                           f"{sys.executable} -m lrs_helpers sample emi_tso --out {small}; "
                           f"echo rc=$?; find {small} -mindepth 1"],
                          capture_output=True, text=True, timeout=300)
    if "mount" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    _one_error_line(done.stderr, str(small / "sample" / "emi_tso"), "disk full")
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "rc=2"
    assert lines[1:] == [str(small / "sample")], "scratch left behind on the full disk"


def test_sample_never_deletes_a_folder_it_did_not_make(capsys, tmp_path):
    mine = tmp_path / "sample" / "ta_image"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    _sample_fails(capsys, "ta_image", "--out", str(tmp_path), words=(str(mine), "not made by lrs_helpers"))
    _sample_fails(capsys, "ta_image", "--out", str(tmp_path), "--force", words=(str(mine),))
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in (tmp_path / "sample").iterdir()) == ["ta_image"]


@pytest.mark.parametrize("damage", ["garbage stamp", "empty stamp", "stamp without files",
                                    "file missing"])
def test_a_damaged_twin_is_rebuilt(capsys, tmp_path, damage):
    from lrs_helpers import sample

    files = sample.build("ta_image", cache_dir=tmp_path)
    folder = files["truth"].parent
    stamp = folder / "built.json"
    if damage == "garbage stamp":
        stamp.write_bytes(b"\x00{not json")
    elif damage == "empty stamp":
        stamp.write_text("")
    elif damage == "stamp without files":
        stamp.write_text('{"seed": 20221}')
    else:
        files["ta"].unlink()
    rebuilt = sample.build("ta_image", cache_dir=tmp_path)
    assert rebuilt == files and all(path.is_file() for path in rebuilt.values())
    assert json.loads(stamp.read_text())["files"]["ta"] == files["ta"].name
    assert sorted(p.name for p in (tmp_path / "sample").iterdir()) == ["ta_image"]


def test_twin_folders_honour_the_umask(tmp_path):
    from lrs_helpers import sample

    old = os.umask(0o022)
    try:
        files = sample.build("ta_image", cache_dir=tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(files["truth"].parent.stat().st_mode) == 0o755
    assert {stat.S_IMODE(path.stat().st_mode) for path in files.values()} == {0o644}


def test_an_unexpected_failure_is_still_one_line_and_exit_2(capsys, monkeypatch):
    from lrs_helpers import sample

    def broken(*args, **kwargs):
        raise RuntimeError("builder broke\non two lines")

    monkeypatch.setattr(sample, "build", broken)
    _sample_fails(capsys, "ta_image", words=("sample", "RuntimeError: builder broke on two lines"))
    code, out, err = _run(capsys, "fetch", "ta_image", "--source", "sample")
    assert code == 2 and out == ""
    _one_error_line(err, "RuntimeError")


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so the progress bar is drawn."""

    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_only(capsys, monkeypatch, tmp_path):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["sample", "ta_image", "nod_offset", "--out", str(tmp_path)]) == 0
    drawn = terminal.getvalue()
    assert "building 2 sample twins" in drawn and re.search(r"2 /\s+2", drawn)
    monkeypatch.undo()
    code, _, err = _run(capsys, "sample", "ta_image", "nod_offset", "--out", str(tmp_path))
    assert code == 0 and err == ""  # not a terminal (captured): no bar


# ---------------------------------------------------------------------------------------------
# the installed console script
# ---------------------------------------------------------------------------------------------
def test_console_script_is_installed_and_runs(tmp_path):
    script = Path(sys.executable).with_name("lrs-helpers")
    assert script.is_file(), "reinstall the package (pip install -e .) to create the entry point"
    # the child inherits LRS_HELPERS_CACHE (set by conftest), so it reads the same twins
    done = subprocess.run([str(script), "diagnose", _twin("emi_uncal")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "emi" in done.stdout and done.stderr == ""
    bad, _ = bad_inputs(tmp_path)["truncated"]
    done = subprocess.run([str(script), "diagnose", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    _one_error_line(done.stderr, str(bad), "truncated")


# ---------------------------------------------------------------------------------------------
# corrections of many files (issue 22)
# ---------------------------------------------------------------------------------------------
def test_emicorr_and_bkgsub_write_one_file_each_and_report_the_bad_one(capsys, tmp_path):
    missing = tmp_path / "missing_uncal.fits"
    code, out, err = _run(capsys, "emicorr", _twin("emi_uncal"), str(missing), "--out", str(tmp_path),
                          "--scheduler", "serial")
    assert code == 2
    written = [Path(line) for line in out.splitlines()]
    assert [p.name for p in written] == [Path(_twin("emi_uncal")).name.replace("_uncal", "_emicorr_ramp")]
    with fits.open(written[0]) as hdul:
        assert hdul[0].header["S_MIREMI"] == "COMPLETE"
    _one_error_line(err, str(missing))
    code, out, err = _run(capsys, "bkgsub", _twin("slitless_rateints"), "--out", str(tmp_path), "--scheduler", "serial")
    assert code == 0 and not err
    assert Path(out.strip()).name.endswith("_bkgsub_rateints.fits") and Path(out.strip()).is_file()
