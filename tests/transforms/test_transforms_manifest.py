"""The manifest schema and row builders (transforms/manifest.py)."""
import json
from types import SimpleNamespace

import pyarrow as pa
import pytest

from transforms import manifest

# DESIGN.md section 5, in order.
DESIGN_COLUMNS = """run_id, input_uri, output_uri, status, error_type, error_message, input_sha256,
input_format, input_width, input_height, input_bytes, output_format, output_width, output_height,
output_bytes, pixel_ratio, byte_ratio, method, energy, model, params, quality, quality_score,
energy_mean, energy_std, energy_p50, energy_p95, high_importance_ratio, retained_energy_ratio,
stretch, faces,
seams_vertical, seams_horizontal, crop_box, decode_ms, energy_ms, resize_ms, encode_ms, total_ms,
library_version, processed_at"""


def _fake_result(**over):
    result = SimpleNamespace(
        original_size=(640, 480), size=(320, 240), original_bytes=10_000, compressed_bytes=2_500,
        compression_ratio=0.25, pixel_ratio=0.25, format="JPEG", input_format="PNG", quality=85,
        energy_stats={"mean_energy": 0.2, "std_energy": 0.1, "p05": 0.0, "p50": 0.15,
                      "p95": 0.6, "high_importance_ratio": 0.05},
        retained_energy_ratio=0.9, seams={"vertical": 12, "horizontal": 3},
        crop_box=(10, 0, 630, 480), stretch=1.04, operations={"faces": 2, "quality_score": 71.25},
        timings={"decode_ms": 1.0, "energy_ms": 2.0, "resize_ms": 3.0, "encode_ms": 4.0,
                 "total_ms": 10.0},
    )
    for k, v in over.items():
        setattr(result, k, v)
    return result


def test_schema_has_every_design_column_and_a_version():
    wanted = [c.strip() for c in DESIGN_COLUMNS.replace("\n", " ").split(",")]
    names = manifest.MANIFEST_SCHEMA.names
    assert names[0] == "schema_version"
    assert names[1:] == wanted
    assert manifest.MANIFEST_SCHEMA.field("processed_at").type == pa.timestamp("us", tz="UTC")
    meta = manifest.MANIFEST_SCHEMA.metadata[b"semantic_compress.schema_version"]
    assert int(meta) == manifest.SCHEMA_VERSION


def test_ok_row_maps_every_result_field():
    row = manifest.ok_row("r1", "s3://b/in/a.png", "s3://b/out/a.x.jpg", _fake_result(), "ab" * 32,
                          method="hybrid", energy="deep", model="efficientnet_lite0",
                          params=manifest.params_json({"scale": 0.5}))
    manifest.conform_row(row)
    assert row["status"] == "ok" and row["schema_version"] == manifest.SCHEMA_VERSION
    assert (row["input_width"], row["input_height"], row["output_width"], row["output_height"]) \
        == (640, 480, 320, 240)
    assert row["input_bytes"] == 10_000 and row["output_bytes"] == 2_500
    assert row["byte_ratio"] == 0.25 and row["pixel_ratio"] == 0.25
    assert row["energy_p50"] == 0.15 and row["energy_p95"] == 0.6
    assert row["seams_vertical"] == 12 and row["seams_horizontal"] == 3
    assert row["crop_box"] == {"left": 10, "top": 0, "right": 630, "bottom": 480}
    assert row["stretch"] == 1.04 and row["faces"] == 2
    assert row["total_ms"] == 10.0 and row["library_version"]
    assert row["quality"] == 85 and row["quality_score"] == 71.25
    assert row["processed_at"].tzinfo is not None
    table = pa.Table.from_pylist([row], schema=manifest.MANIFEST_SCHEMA)
    assert table.num_rows == 1


def test_ok_row_tolerates_missing_optional_fields():
    row = manifest.ok_row("r1", "a", "b", _fake_result(crop_box=None, energy_stats={}, seams={},
                                                      quality=None, operations={}), "00")
    manifest.conform_row(row)
    assert row["crop_box"] is None and row["energy_mean"] is None and row["quality"] is None
    assert row["quality_score"] is None  # a fixed quality: no score measured


def test_error_and_skipped_rows_fit_the_schema():
    err = manifest.error_row("r1", "gs://b/x.jpg", "ImageDecodeError", "x" * 5000,
                             method="hybrid", energy="gradient", model=None, params="{}")
    assert err["status"] == "error" and len(err["error_message"]) == manifest.MAX_ERROR_MESSAGE
    skipped = manifest.skipped_row("r1", "gs://b/x.jpg", "gs://b/o/x.1.jpg", input_bytes=10,
                                   output_bytes=3, output_format="JPEG")
    for row in (err, skipped):
        manifest.conform_row(row)
    assert skipped["status"] == "skipped" and skipped["output_bytes"] == 3


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

