"""pipeline/preflight.py: a run under an earlier run's --run_id, or with a file for its
output folder, does not start."""
import os

import pytest

from pipeline.preflight import earlier_run_folders, launch_problem, not_folders

FAST = ["--method", "hybrid", "--energy", "gradient", "--scale", "0.5",
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def test_earlier_run_folders(tmp_path):
    manifest, letters = str(tmp_path / "m"), str(tmp_path / "out" / "_dead_letters" / "run_id=a")
    assert earlier_run_folders(manifest, letters, "a") == []
    os.makedirs(tmp_path / "m" / "run_id=b")
    assert earlier_run_folders(manifest, letters, "a") == []
    os.makedirs(tmp_path / "m" / "run_id=a")
    os.makedirs(letters)
    assert earlier_run_folders(manifest, letters, "a") == [f"{manifest}/run_id=a", letters]
    assert "--run_id 'a'" in launch_problem(str(tmp_path / "out"), manifest, letters, "a")
    # a store that cannot be asked does not stop the run
    assert earlier_run_folders("nosuchprotocol://m", "nosuchprotocol://o/x", "a") == []


def test_a_reused_run_id_stops_the_job_and_keeps_the_first_run(tmp_path, write_tree,
                                                                photo_files, run_job,
                                                                read_manifest, capsys):
    """The second run's parts used to go beside the first run's (part-00000-of-00001 beside
    part-0000N-of-00003: one run of mixed rows in every report) or, with as many parts, over
    them (the first run's rows lost), exit status 0 either way."""
    write_tree(tmp_path / "in", {"a/x.jpg": photo_files["coffee.jpg"],
                                 "b/y.jpg": photo_files["astronaut.jpg"]})
    out = tmp_path / "out"
    _, s1 = run_job(["--input", str(tmp_path / "in" / "a"), "--output", str(out), *FAST,
                     "--run_id", "nightly"])
    assert s1.ok == 1
    first = read_manifest(str(out / "_manifest"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_job(["--input", str(tmp_path / "in" / "b"), "--output", str(out), *FAST,
                 "--run_id", "nightly"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--run_id 'nightly': an earlier run has this id" in err and len(err.splitlines()) == 1
    assert read_manifest(str(out / "_manifest")) == first
    assert not any(f.startswith("y.jpg") for f in os.listdir(out))   # nothing ran
    # another id (or none) runs
    _, s2 = run_job(["--input", str(tmp_path / "in" / "b"), "--output", str(out), *FAST])
    assert s2.ok == 1 and len(read_manifest(str(out / "_manifest"))) == 2


def test_not_folders(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    folders = {"--output": str(tmp_path / "file.txt"), "--manifest": str(tmp_path / "dir"),
               "--other": str(tmp_path / "new")}
    assert not_folders(folders) == {"--output": str(tmp_path / "file.txt")}
    assert launch_problem(str(tmp_path / "dir"), str(tmp_path / "file.txt"), "x", "a") == \
        f"--manifest {tmp_path / 'file.txt'}: is a file, not a folder"


def test_an_output_that_is_a_file_stops_the_job_before_it_starts(tmp_path, write_tree,
                                                                  photo_files, run_job,
                                                                  capsys):
    """--output naming a file used to fail each image's write (an error row each), then the
    dead letters' and the manifest's: a RuntimeError traceback after all the work, and no
    manifest."""
    write_tree(tmp_path / "in", {"x.jpg": photo_files["coffee.jpg"]})
    (tmp_path / "taken.txt").write_text("not a folder")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_job(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "taken.txt"),
                 *FAST])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().endswith(f"--output {tmp_path / 'taken.txt'}: is a file, not a folder")
    assert (tmp_path / "taken.txt").read_text() == "not a folder"
