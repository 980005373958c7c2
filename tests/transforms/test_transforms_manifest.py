"""The manifest schema and row builders (transforms/manifest.py)."""
import json

import pyarrow as pa
import pytest

from transforms import manifest

# docs/pipeline.md "The manifest", in order.
DESIGN_COLUMNS = """run_id, input_uri, output_uri, status, error_type, error_message, input_sha256,
input_format, input_width, input_height, input_bytes, output_format, output_width, output_height,
output_bytes, pixel_ratio, byte_ratio, method, energy, model, params, quality, quality_score,
energy_mean, energy_std, energy_p50, energy_p95, high_importance_ratio, retained_energy_ratio,
stretch, faces,
seams_vertical, seams_horizontal, crop_box, decode_ms, energy_ms, resize_ms, encode_ms, total_ms,
library_version, processed_at"""
# added since, at the end (schema version 3): which file the input URI held
ADDED_COLUMNS = ["input_modified", "input_etag", "skip_reason"]


@pytest.fixture(scope="module")
def results():
    """Real results of the library: seam carving encoded to a quality score (seams,
    quality_score), and a smart crop of a PNG (crop_box, lossless: no quality)."""
    import numpy as np
    from skimage import data

    from compress_core import GradientEnergyFunction, SemanticCompressor

    compressor = SemanticCompressor(GradientEnergyFunction())
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(data.chelsea()[::3, ::3])).save(buf, "PNG")
    photo = buf.getvalue()  # a 151 x 100 PNG file
    carved = compressor.compress(photo, target_width=120, target_height=100,
                                 method="seam_carving", format="jpeg", quality="auto",
                                 show_progress=False)
    cropped = compressor.compress(photo, target_width=80, target_height=80,
                                  method="smart_crop", format="png", show_progress=False)
    return carved, cropped


def test_schema_has_every_design_column_and_a_version():
    wanted = [c.strip() for c in DESIGN_COLUMNS.replace("\n", " ").split(",")]
    names = manifest.MANIFEST_SCHEMA.names
    assert names[0] == "schema_version"
    assert names[1:] == wanted + ADDED_COLUMNS
    for when in ("processed_at", "input_modified"):
        assert manifest.MANIFEST_SCHEMA.field(when).type == pa.timestamp("us", tz="UTC")
    assert manifest.SCHEMA_VERSION == 5
    assert manifest.PART_SCHEMA.names == [n for n in names if n != "run_id"]
    meta = manifest.MANIFEST_SCHEMA.metadata[b"semantic_compress.schema_version"]
    assert int(meta) == manifest.SCHEMA_VERSION


def test_ok_row_maps_every_result_field(results):
    """Every column comes from the real CompressionResult (a renamed attribute would leave a
    column empty: ok_row reads results by name)."""
    import datetime as dt

    carved, _ = results
    listed = dt.datetime(2026, 12, 1, 7, 59, 58, 123456, tzinfo=dt.timezone.utc)
    row = manifest.ok_row("r1", "s3://b/in/a.png", "s3://b/out/a.x.jpg", carved, "ab" * 32,
                          method="seam_carving", energy="gradient", model=None,
                          params=manifest.params_json({"target_width": 120}),
                          input_modified=listed,
                          input_etag="etag:336311a016184326ddbdd61edd4eeb52")
    manifest.conform_row(row)
    assert row["status"] == "ok" and row["schema_version"] == manifest.SCHEMA_VERSION
    assert (row["run_id"], row["input_uri"], row["output_uri"], row["input_sha256"]) == (
        "r1", "s3://b/in/a.png", "s3://b/out/a.x.jpg", "ab" * 32)
    empty = {k for k, v in row.items() if v is None}
    # no error; gradient energy has no model and finds no faces; carving crops nothing
    expected_empty = {"error_type", "error_message", "model", "faces", "crop_box",
                      "skip_reason"}
    assert empty == expected_empty, empty ^ expected_empty
    assert (row["input_width"], row["input_height"]) == carved.original_size
    assert (row["output_width"], row["output_height"]) == carved.size == (120, 100)
    assert (row["input_bytes"], row["output_bytes"]) == (carved.original_bytes,
                                                         carved.compressed_bytes)
    assert row["byte_ratio"] == carved.compression_ratio
    assert row["pixel_ratio"] == carved.pixel_ratio
    assert (row["input_format"], row["output_format"]) == (carved.input_format, "JPEG")
    assert row["quality"] == carved.quality
    assert row["quality_score"] == carved.operations["quality_score"]
    stats = carved.energy_stats
    assert (row["energy_mean"], row["energy_std"], row["energy_p50"], row["energy_p95"],
            row["high_importance_ratio"]) == (stats["mean_energy"], stats["std_energy"],
                                              stats["p50"], stats["p95"],
                                              stats["high_importance_ratio"])
    assert row["retained_energy_ratio"] == carved.retained_energy_ratio
    assert row["stretch"] == carved.stretch
    assert (row["seams_vertical"], row["seams_horizontal"]) == (31, 0) == (
        carved.seams["vertical"], carved.seams["horizontal"])
    for stage in ("decode_ms", "energy_ms", "resize_ms", "encode_ms", "total_ms"):
        assert row[stage] == carved.timings[stage]
    assert row["library_version"] and row["processed_at"].tzinfo is not None
    table = pa.Table.from_pylist([row], schema=manifest.MANIFEST_SCHEMA)
    assert table.num_rows == 1
    assert table.column("input_modified").to_pylist() == [listed]   # to the microsecond


def test_ok_row_of_a_lossless_crop(results):
    _, cropped = results
    row = manifest.ok_row("r1", "a", "b", cropped, "00")
    manifest.conform_row(row)
    left, top, right, bottom = cropped.crop_box
    assert row["crop_box"] == {"left": left, "top": top, "right": right, "bottom": bottom}
    assert row["output_format"] in ("PNG", "WEBP") and row["quality"] is None
    assert row["quality_score"] is None  # no quality search: no score measured
    assert (row["seams_vertical"], row["seams_horizontal"]) == (0, 0)


def test_ok_row_tolerates_missing_optional_fields():
    """A CompressionResult with only its required fields (built by hand by a caller): the
    optional columns are empty, nothing fails."""
    import numpy as np

    from compress_core import CompressionResult

    bare = CompressionResult(pixels=np.zeros((4, 6, 3), np.uint8), data=b"x" * 10, format="PNG",
                             quality=None, original_size=(12, 8), original_bytes=100)
    row = manifest.ok_row("r1", "a", "b", bare, "00")
    manifest.conform_row(row)
    assert (row["output_width"], row["output_height"], row["byte_ratio"]) == (6, 4, 0.1)
    assert row["crop_box"] is None and row["energy_mean"] is None and row["quality"] is None
    assert row["quality_score"] is None and row["total_ms"] is None


def test_error_and_skipped_rows_fit_the_schema():
    err = manifest.error_row("r1", "gs://b/x.jpg", "ImageDecodeError", "x" * 5000,
                             method="hybrid", energy="gradient", model=None, params="{}")
    assert err["status"] == "error" and len(err["error_message"]) == manifest.MAX_ERROR_MESSAGE
    skipped = manifest.skipped_row("r1", "gs://b/x.jpg", "gs://b/o/x.1.jpg", input_bytes=10,
                                   output_bytes=3, output_format="JPEG")
    for row in (err, skipped):
        manifest.conform_row(row)
    assert skipped["status"] == "skipped" and skipped["output_bytes"] == 3
    assert skipped["byte_ratio"] == 0.3   # as on an ok row (manifest review 25)
    assert manifest.skipped_row("r1", "gs://b/x.jpg", None, input_bytes=10)["byte_ratio"] is None
    assert (skipped["output_format"], skipped["skip_reason"]) == ("JPEG", None)
    # the reason a skip adopted an output (a rerun reads it to see the input replaced), and
    # the failure a skip of a damaged file repeats
    adopted = manifest.skipped_row("r1", "gs://b/x.jpg", "gs://b/o/x.1.jpg", input_bytes=10,
                                   output_bytes=3, skip_reason=manifest.SKIP_UNRECORDED)
    again = manifest.skipped_row("r1", "gs://b/y.jpg", None, input_bytes=10,
                                 skip_reason=manifest.SKIP_FAILED_BEFORE,
                                 error_type="ImageDecodeError", error_message="truncated")
    for row in (adopted, again):
        manifest.conform_row(row)
    assert adopted["skip_reason"] == "unrecorded output" and adopted["output_bytes"] == 3
    assert (again["skip_reason"], again["error_type"], again["error_message"]) == (
        "failed before", "ImageDecodeError", "truncated")
    # a message of the longest length kept is kept whole
    whole = "y" * manifest.MAX_ERROR_MESSAGE
    assert manifest.error_row("r1", "gs://b/x.jpg", "E", whole)["error_message"] == whole


def test_rows_reject_unknown_columns_and_statuses():
    with pytest.raises(ValueError, match="unknown manifest columns"):
        manifest.empty_row("r", "u", "ok", colour="red")
    with pytest.raises(ValueError, match="status must be one of"):
        manifest.empty_row("r", "u", "done")
    row = manifest.empty_row("r", "u", "ok")
    row["input_width"] = "wide"
    with pytest.raises(ValueError, match="does not fit"):
        manifest.conform_row(row)


def test_params_json_is_canonical():
    a = manifest.params_json({"scale": 0.5, "method": "hybrid"})
    b = manifest.params_json({"method": "hybrid", "scale": 0.5})
    assert a == b == '{"method":"hybrid","scale":0.5}'
    assert json.loads(a) == {"method": "hybrid", "scale": 0.5}


def test_manifest_prefix_is_a_hive_partition():
    assert manifest.manifest_prefix("gs://b/m/", "20260101T000000Z-abc") \
        == "gs://b/m/run_id=20260101T000000Z-abc"


def test_the_schema_cites_a_document_of_the_repository():
    """The files' metadata cited "DESIGN.md section 5", which the repository does not have."""
    import os
    import re

    doc = manifest.MANIFEST_SCHEMA.metadata[b"semantic_compress.doc"].decode()
    cited = re.search(r"see (\S+\.md), (.+)\.$", doc)
    assert cited, doc
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, cited.group(1)), encoding="utf-8") as f:
        assert f"\n## {cited.group(2)}\n" in f.read()


def test_stopped_launches_are_those_with_fewer_parts_than_their_names_say():
    """S3 review 49: a launch stopped while its parts were moved into place left 2-3 of 8."""
    names = ["gs://b/m/run_id=r/part-00000-of-00008-1a2b3c4d.parquet",
             "part-00005-of-00008-1a2b3c4d.parquet", "part-00000-of-00002-00ff00ff.parquet",
             "part-00001-of-00002-00ff00ff.parquet", "part-00000-of-00001.parquet",
             "export.parquet", "part-00000-of-00003-abc12345.parquet.tmp"]
    assert manifest.stopped_launches(names) == {"1a2b3c4d": (2, 8)}
    assert manifest.stopped_launches(names[2:]) == {}


def test_only_the_jobs_part_files_are_manifest_parts():
    """A filtered export saved beside a run's parts, or a part being written, is no part (read
    as one, its rows counted twice and claimed output names again; mutation review 51: either
    half of the rule could be dropped with every test of this module passing)."""
    assert manifest.is_manifest_part("part-00000-of-00001-1a2b3c4d.parquet")
    assert manifest.is_manifest_part("gs://b/m/run_id=r/part-00003-of-00008.parquet")
    for name in ("export.parquet", "night.parquet", "part-00000-of-00001-1a2b3c4d.parquet.tmp",
                 "part-00000-of-00001.json"):
        assert not manifest.is_manifest_part(name), name
