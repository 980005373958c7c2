"""transforms/files.py: WriteFiles writes complete files and leaves no temporary folder."""
import os

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from transforms.files import WriteFiles, temp_folder


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def test_lines_are_written_and_the_temporary_folder_removed(tmp_path):
    temp = temp_folder(str(tmp_path), "r1")
    assert os.path.basename(temp).startswith("_beam_temp-run_id=r1-")
    with BeamTestPipeline(runner="FnApiRunner") as p:
        _ = (p | beam.Create([f"line {i}" for i in range(10)])
             | WriteFiles(str(tmp_path / "out"), temp, "failures", ".jsonl"))
    files = _tree(tmp_path)
    assert files and all(f.startswith("out/failures-") and f.endswith(".jsonl") for f in files)
    lines = [line for f in files for line in open(tmp_path / f).read().splitlines()]
    assert sorted(lines) == sorted(f"line {i}" for i in range(10))
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_nothing_to_write_leaves_no_file_and_no_folder(tmp_path):
    with BeamTestPipeline(runner="FnApiRunner") as p:
        _ = (p | beam.Create([]).with_output_types(str)
             | WriteFiles(str(tmp_path / "out"), temp_folder(str(tmp_path), "r"), "x", ".txt"))
    assert os.listdir(tmp_path) == []


def test_two_writes_to_one_folder_keep_both_files(tmp_path):
    """Files are named with a tag of their WriteFiles: two jobs under one --run_id write their
    dead letters to one folder, and the second's failures-00000-of-00001.jsonl replaced the
    first's."""
    for run in ("first", "second"):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            _ = (p | beam.Create([f"{run} {i}" for i in range(3)])
                 | WriteFiles(str(tmp_path / "out"), temp_folder(str(tmp_path), "r"),
                              "failures", ".jsonl"))
    files = _tree(tmp_path)
    lines = [line for f in files for line in open(tmp_path / f).read().splitlines()]
    assert len(files) == 2 and sorted(lines) == sorted(
        f"{run} {i}" for run in ("first", "second") for i in range(3))


def test_a_failed_move_into_the_folder_fails_the_write_and_keeps_the_files(tmp_path,
                                                                          monkeypatch):
    """Beam's WriteToFiles swallows a failed rename into the folder (an object store's copy
    refused; a file where the run's folder should be): the temporary folder holding the only
    copy was removed and the write reported complete (a run's manifest lost, exit status 0;
    job review 46). It now fails, and what was written stays in the temporary folder."""
    import pytest
    from apache_beam.io import localfilesystem
    from apache_beam.io.filesystem import BeamIOError

    real = localfilesystem.LocalFileSystem.rename

    def refused(self, sources, destinations):
        if any("/out/" in d for d in destinations):
            raise BeamIOError("Rename operation failed",
                              {(s, d): OSError("refused") for s, d in zip(sources, destinations)})
        return real(self, sources, destinations)

    monkeypatch.setattr(localfilesystem.LocalFileSystem, "rename", refused)
    temp = temp_folder(str(tmp_path), "r")
    with pytest.raises(Exception, match="was not written"):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            _ = (p | beam.Create(["a", "b"])
                 | WriteFiles(str(tmp_path / "out"), temp, "part", ".txt"))
    kept = [f for f in _tree(tmp_path) if f.startswith(os.path.basename(temp))]
    assert kept and not [f for f in _tree(tmp_path) if f.startswith("out/")]
